"""Create a staff account with its key pair, authenticator enrolment and backup codes."""

from __future__ import annotations

import io

import segno
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, no_translations
from django.core.validators import validate_email

from tipline.accounts.services import AccountError, EditorCreated, editor_create
from tipline.audit import COMMAND_LINE_ACTOR
from tipline.keyring import tipline_is_open
from tipline.management.secrets_input import read_passphrase
from tipline.setup.services import setup_link_retire_if_complete

PASSWORD_ENV = "TIPLINE_PASSWORD"  # noqa: S105 - a variable name


class Command(BaseCommand):
    help = (
        "Create a staff account. The password is asked for twice (or read from "
        f"{PASSWORD_ENV}); the authenticator enrolment URI and the backup codes are "
        "printed once, for the operator to hand to the editor."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--admin", action="store_true", help="may manage editors and read the audit log"
        )
        parser.add_argument(
            "--email",
            default="",
            help="optional; only for the fixed daily reminder (TIPLINE_NOTIFY_EMAIL)",
        )

    # Operator messages are English; so are the password validators' messages here.
    @no_translations
    def handle(self, *args, username: str, admin: bool, email: str, **options) -> None:
        _check_username(username)  # before the prompt: do not ask for a password in vain
        _check_email(email)
        password = read_passphrase(PASSWORD_ENV, prompt=f"Password for {username}", confirm=True)
        _check_password(username, password)
        was_open = tipline_is_open()
        try:
            created = editor_create(
                actor=COMMAND_LINE_ACTOR,
                username=username,
                password=password,
                is_admin=admin,
                email=email,
            )
        except AccountError as exc:
            raise CommandError(str(exc)) from None
        setup_link_retire_if_complete()  # the set-up page's link stops working once it is open
        self._report(created, admin=admin, opened=not was_open and tipline_is_open())

    def _report(self, created: EditorCreated, *, admin: bool, opened: bool) -> None:
        role = "Admin" if admin else "Editor"
        self.stdout.write(f"{role} {created.user.get_username()} created.")
        self.stdout.write("")
        self.stdout.write("Authenticator enrolment (shown only now): scan this QR code with the")
        self.stdout.write("editor's authenticator app, or paste the link below it.")
        self.stdout.write("")
        self._qr_code(created.otpauth_uri)
        self.stdout.write(f"  {created.otpauth_uri}")
        self.stdout.write("Then log in at /staff/login/.")
        self.stdout.write("")
        self.stdout.write("Backup codes (each works once in place of an app code; shown only now):")
        for code in created.backup_codes:
            self.stdout.write(f"  {code}")
        self.stdout.write("")
        if opened:
            self.stdout.write(
                "The tip line is now open: tips are accepted, and this editor can read them."
            )
        elif not tipline_is_open():
            self.stdout.write(
                "The tip line opens once a recovery key exists: "
                "manage.py create_recovery_key --output FILE (or the set-up link)."
            )

    def _qr_code(self, uri: str) -> None:
        """The URI as a QR code in the terminal: many authenticator apps cannot take a pasted URI.

        Half-block characters, two rows of modules to a line, so it fits a
        terminal 80 columns wide; drawn as segno draws it, for a dark background
        (the light modules are the blocks). Built whole first: the command's
        output adds a newline to every write, and segno writes in pieces.
        """
        drawing = io.StringIO()
        segno.make(uri, error="m").terminal(out=drawing, compact=True)
        self.stdout.write(drawing.getvalue(), ending="")


def _check_username(username: str) -> None:
    User = get_user_model()
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise CommandError(f"invalid username: {' '.join(exc.messages)}") from None
    max_length = User._meta.get_field("username").max_length
    if max_length is not None and len(username) > max_length:
        raise CommandError("invalid username: too long")
    if User.objects.filter(username=username).exists():
        raise CommandError(f"an account named {username} already exists")


def _check_email(email: str) -> None:
    if not email:
        return
    try:
        validate_email(email)
    except ValidationError:
        raise CommandError(f"invalid email address: {email}") from None


def _check_password(username: str, password: str) -> None:
    try:
        # An unsaved user lets the similarity check compare with the username.
        password_validation.validate_password(password, get_user_model()(username=username))
    except ValidationError as exc:
        raise CommandError(f"password refused: {' '.join(exc.messages)}") from None
