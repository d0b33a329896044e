"""The main job: the whole stack on this box, a sample video converted end to end.

Run by ``./run demo`` after the backing services are up. It starts an SMTP server that
keeps mail in ``.run/mail`` and the five services (each its own process, logs in
``.run/logs``), creates a demo user, encodes a sample video, uploads it through the
gateway, follows the job, downloads the MP3 and shows the email. The stack keeps running
afterwards (``./run down`` stops it).
"""

from __future__ import annotations

import mailbox
import os
import socket
import subprocess
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import av
import httpx

from common.stack import Stack, StackConfig
from converter.samples import write_sample_video

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".run"
EMAIL = os.environ.get("VIDMP3_DEMO_EMAIL", "demo@example.com")
PASSWORD = os.environ.get("VIDMP3_DEMO_PASSWORD", "demo-password")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_smtp(port: int) -> Path:
    maildir = STATE / "mail"
    mailbox.Maildir(maildir, create=True)  # tmp/, new/ and cur/ must exist before the server writes
    if not listening(port):
        step(f"starting an SMTP server on 127.0.0.1:{port} (mail kept in {maildir})")
        (STATE / "logs").mkdir(parents=True, exist_ok=True)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{port}",
                "-c",
                "aiosmtpd.handlers.Mailbox",
                str(maildir),
            ],
            stdout=(STATE / "logs" / "smtp.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (STATE / "pids").mkdir(parents=True, exist_ok=True)
        (STATE / "pids" / "smtp.pid").write_text(str(server.pid))  # so `./run down` stops it too
        for _ in range(50):
            if listening(port):
                break
            time.sleep(0.1)
    return maildir


def ensure_user(stack: Stack) -> None:
    """The demo user, with the demo password (set again if the user already exists)."""

    def auth_cli(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "auth", command, EMAIL, "--password-stdin"],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            env=stack.config.environment("auth"),
            check=False,
        )

    if auth_cli("create-user").returncode != 0 and (result := auth_cli("set-password")).returncode != 0:
        raise SystemExit(f"preparing the demo user failed: {result.stderr}")
    print(f"    user {EMAIL} / {PASSWORD}", flush=True)


def follow(http: httpx.Client, auth: dict[str, str], job_id: str, stack: Stack) -> dict[str, Any]:
    """Poll the job, printing each state it enters, until it ends; exit if it failed."""
    step("following the job")
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while True:
        status: dict[str, Any] = http.get(f"/v1/jobs/{job_id}", headers=auth).raise_for_status().json()
        for change in status["history"]:
            if change["state"] not in seen:
                seen.add(change["state"])
                print(f"    {change['at']}  {change['state']}", flush=True)
        if status["state"] == "failed":
            raise SystemExit(f"the job failed: {status['error']}")
        if status["state"] == "notified":
            return status
        if time.monotonic() > deadline:
            raise SystemExit(f"the job did not finish in 2 minutes; logs in {stack.log_dir}")
        time.sleep(0.3)


def show_email(maildir: Path, job_id: str) -> None:
    step(f"the email, as the SMTP server received it ({maildir})")
    box = mailbox.Maildir(maildir, create=False)
    for message in (message_from_bytes(box.get_bytes(key), policy=policy.default) for key in box.iterkeys()):
        if message["X-Vidmp3-Job-Id"] == job_id:
            print(f"    To: {message['To']}\n    Subject: {message['Subject']}")
            assert isinstance(message, EmailMessage)
            plain = message.get_body(preferencelist=("plain",))
            text = plain.get_content() if plain is not None else ""
            print("    " + text.strip().replace("\n", "\n    "))


def main() -> int:
    STATE.mkdir(exist_ok=True)
    config = StackConfig(state_dir=STATE)
    stack = Stack(config)
    maildir = start_smtp(config.smtp_port)

    step("starting the services (gateway, auth, converter, notifier, projections)")
    missing = [
        service for service in ("auth", "projections", "converter", "notifier", "gateway") if not stack.healthy(service)
    ]
    stack.start(*missing)
    ensure_user(stack)

    sample = STATE / "sample.mp4"
    step(f"encoding a 10-second sample video: {sample}")
    audio_seconds = write_sample_video(sample, seconds=10.0, width=640, height=360)

    gateway = config.url("gateway")
    with httpx.Client(base_url=gateway, timeout=60) as http:
        step(f"logging in through the gateway {gateway}")
        token = (
            http.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
            .raise_for_status()
            .json()["access_token"]
        )
        auth = {"Authorization": f"Bearer {token}"}

        step("uploading the video")
        with sample.open("rb") as video:
            accepted = (
                http.post("/v1/jobs", headers=auth, files={"file": ("sample.mp4", video, "video/mp4")})
                .raise_for_status()
                .json()
            )
        job_id = accepted["job_id"]
        print(f"    job {job_id}", flush=True)

        status = follow(http, auth, job_id, stack)

        step("downloading the MP3")
        target = ROOT / "out" / status["mp3"]["filename"]
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(http.get(status["mp3"]["download_url"], headers=auth).raise_for_status().content)

    with av.open(str(target)) as container:
        stream = container.streams.audio[0]
        seconds = sum(frame.samples for frame in container.decode(stream)) / stream.sample_rate
    print(
        f"    {target} ({target.stat().st_size} bytes, {seconds:.2f} s of audio; the video had {audio_seconds:.2f} s)"
    )

    show_email(maildir, job_id)

    print(
        f"""
Done. The stack is still running:
  API docs      {gateway}/docs
  fetch again   TOKEN=$(curl -s -X POST {gateway}/v1/auth/login -H 'content-type: application/json' \\
                  -d '{{"email": "{EMAIL}", "password": "{PASSWORD}"}}' \\
                  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
                curl -OJ -H "Authorization: Bearer $TOKEN" {gateway}/v1/jobs/{job_id}/mp3
  logs          {stack.log_dir}
  stop it       ./run down
""",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
