"""The webhook sender, a part of the notifier: internal events become public events
(``contracts.webhooks``), stored as deliveries to each endpoint that wants them (and to a job's
callback URL), then sent, signed with ``standardwebhooks``, at least once, retried for about a day."""
