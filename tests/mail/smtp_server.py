"""A real SMTP server for the mail tests (aiosmtpd, from PyPI or Debian's python3-aiosmtpd).

    python3 smtp_server.py HOST PORT DIR

Writes each message it accepts to DIR/NNNNNN.eml (written whole, then renamed into place), with
the envelope in X-Envelope-From / X-Envelope-To headers added on top. Recipients whose local part
starts with "reject" are refused with 550 (a permanent failure), "busy" with 451 (try later).
Prints "ready" once it listens.
"""
import itertools
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, directory):
        self.directory = directory
        self.numbers = itertools.count(len(os.listdir(directory)))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("busy"):
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        path = os.path.join(self.directory, "%06d.eml" % next(self.numbers))
        with open(path + ".tmp", "wb") as out:
            out.write(("X-Envelope-From: %s\r\n" % envelope.mail_from).encode())
            out.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            out.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 accepted"


def main():
    host, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    controller = Controller(Handler(directory), hostname=host, port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
