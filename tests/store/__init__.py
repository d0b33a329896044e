"""The store's layout end to end, each test with a system of its own (its own database): they
run after the e2e package, whose shared system would otherwise consume the same queues."""
