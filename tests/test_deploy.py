"""Deployment files (deploy/, Dockerfile, .dockerignore) checked against the CLI, the code and the README.

Building the image and running systemd cannot happen here, so these are static checks, each of which
fails when the file it reads drifts: every ``clusterwatch …`` command line in a unit, the crontab, the
Dockerfile and the README's Deployment section is parsed by the real click CLI, so a renamed command
or option breaks this file rather than a server at 3 a.m.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Callable, Iterator

import click
import pytest

from scraper.cli import main
from scraper.schedule import SHUTDOWN_GRACE

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
CRONTAB = DEPLOY / "cron" / "clusterwatch.crontab"
ENV_WRAPPER = DEPLOY / "clusterwatch-env"
STATE_DIR = "/var/lib/clusterwatch"
CONFIG = "/etc/clusterwatch/clusterwatch.toml"

Unit = dict[str, dict[str, list[str]]]


# --- readers -----------------------------------------------------------------------------------


def read_unit(path: Path) -> Unit:
    """A systemd unit as ``{section: {key: [every value, in order]}}``; continuation lines joined."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        key, eq, value = line.partition("=")
        assert eq and section is not None, f"{path.name}:{n}: not 'Key=value' inside a [Section]: {raw!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def one(unit: Unit, section: str, key: str) -> str:
    """The value of a key that must be set exactly once."""
    values = unit.get(section, {}).get(key, [])
    assert len(values) == 1, f"[{section}] {key}= should be set once, found {values}"
    return values[0]


def timespan(value: str) -> float:
    """A systemd time span in seconds: ``90``, ``90s``, ``2min``, ``1h 30min``."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value)
    assert parts and re.fullmatch(r"(\s*\d+(\.\d+)?\s*[a-z]*)+", value), f"not a time span: {value!r}"
    return sum(float(n) * units[u] for n, u in parts)


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation and comment lines handled."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or (not line.strip() and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).strip().partition(" ")
        out.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return out


def crontab_entries() -> tuple[dict[str, str], list[tuple[list[str], str]]]:
    """The crontab's variables and its jobs as (five time fields, command as sh will see it)."""
    env: dict[str, str] = {}
    jobs: list[tuple[list[str], str]] = []
    for line in CRONTAB.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", line)
        if m:
            env[m.group(1)] = m.group(2)
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, f"crontab line without 5 time fields and a command: {line!r}"
        jobs.append((fields[:5], fields[5]))
    return env, jobs


def readme_deployment_blocks() -> list[tuple[str, str]]:
    """(language, body) of each fenced code block in the README's "## Deployment" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Deployment\n(.*?)(?=^## )", readme, re.S | re.M)
    assert m, "README.md has no '## Deployment' section"
    return re.findall(r"^```(\w*)\n(.*?)^```", m.group(1), re.S | re.M)


# --- shell command lines → clusterwatch argument lists ------------------------------------------

_OPERATOR = re.compile(r"[();<>|&]+")
# Options that take a value, for the wrappers a clusterwatch command may be started through.
_DOCKER_RUN_VALUE = {"--name", "-v", "--volume", "--env-file", "-e", "--env", "--restart", "--stop-timeout",
                     "-p", "--publish", "-u", "--user", "--mount", "-w", "--workdir", "--health-cmd"}
_DOCKER_RUN_FLAG = {"-d", "--detach", "--rm", "-i", "-t", "-it", "--init", "--read-only"}
_DOCKER_EXEC_VALUE = {"-u", "--user", "-e", "--env", "-w", "--workdir"}
_DOCKER_EXEC_FLAG = {"-i", "-t", "-it", "-d"}


def simple_commands(line: str) -> Iterator[list[str]]:
    """The simple commands of one shell line: split at |, ||, &&, ;, redirections and parentheses."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    words: list[str] = []
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.isdigit() and nxt[:1] in "<>" and nxt:  # the 2 of 2>&1
            continue
        if _OPERATOR.fullmatch(tok):
            if words:
                yield words
            words = []
        else:
            words.append(tok)
    if words:
        yield words


def _skip_options(words: list[str], with_value: set[str], flags: set[str], what: str) -> list[str]:
    while words and words[0].startswith("-"):
        opt = words[0]
        if opt.split("=", 1)[0] in with_value and "=" in opt:
            words = words[1:]
        elif opt in with_value:
            words = words[2:]
        elif opt in flags:
            words = words[1:]
        else:
            raise AssertionError(f"{what}: option {opt!r} unknown to this test; add it to tests/test_deploy.py")
    return words


def unwrap(words: list[str]) -> list[str] | None:
    """The clusterwatch arguments of one simple command, through env/sudo/flock/docker wrappers; None
    when the command is not clusterwatch (or is ``docker run IMAGE`` with the image's own CMD)."""
    while words:
        head = words[0]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", head) or head == "exec":
            words = words[1:]
        elif head == "sudo":
            words = _skip_options(words[1:], {"-u", "--user", "-g"}, {"-E", "-H", "-n"}, "sudo")
        elif head == "flock":
            words = _skip_options(words[1:], {"-w", "--timeout", "-E"}, {"-n", "--nonblock", "-x", "-s"}, "flock")
            words = words[1:]  # the lock file
        elif Path(head).name == "clusterwatch-env":
            words = words[1:]
        elif words[:2] == ["docker", "exec"]:
            words = _skip_options(words[2:], _DOCKER_EXEC_VALUE, _DOCKER_EXEC_FLAG, "docker exec")[1:]
        elif words[:2] == ["docker", "run"]:
            words = _skip_options(words[2:], _DOCKER_RUN_VALUE, _DOCKER_RUN_FLAG, "docker run")[1:]
        elif Path(head).name == "clusterwatch":
            return words[1:]
        else:
            return None
    return None


def clusterwatch_commands(line: str) -> list[list[str]]:
    """Every clusterwatch invocation on one shell line, as its argument list."""
    return [args for words in simple_commands(line) if (args := unwrap(words)) is not None]


def test_command_extraction_sees_through_wrappers() -> None:
    line = ("flock -n /x/cron.lock clusterwatch-env /usr/local/bin/clusterwatch run --once 2>&1 | logger -t clusterwatch"
            " && sudo -u clusterwatch clusterwatch-env clusterwatch status > /dev/null || cat out")
    assert clusterwatch_commands(line) == [["run", "--once"], ["status"]]
    assert clusterwatch_commands("docker run -d --name clusterwatch -v a:/data img clusterwatch backup /data/") == [
        ["backup", "/data/"]]
    assert clusterwatch_commands("docker run --rm img") == []
    assert clusterwatch_commands("useradd --system clusterwatch && systemctl enable --now clusterwatch") == []
    with pytest.raises(AssertionError, match="--privileged"):
        clusterwatch_commands("docker run --privileged img clusterwatch status")


# --- the real CLI, without running anything ------------------------------------------------------


@pytest.fixture
def parse_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], str | None]:
    """Parse argument lists with the real click tree, every command's callback replaced by a no-op:
    subcommands, options, choices, types and required arguments are all checked; nothing runs.
    Returns None when the arguments parse, else click's message."""

    def neutralise(cmd: click.Command) -> None:
        monkeypatch.setattr(cmd, "callback", lambda *a, **k: None)
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                neutralise(sub)

    neutralise(main)

    def parse(args: list[str]) -> str | None:
        try:
            main.main(args, prog_name="clusterwatch", standalone_mode=False)
        except click.ClickException as e:
            return e.format_message()
        return None

    return parse


def unit_commands() -> list[list[str]]:
    out = []
    for path in sorted(UNITS.glob("*.service")):
        for value in read_unit(path)["Service"].get("ExecStart", []):
            out.extend(clusterwatch_commands(value.lstrip("-@:+!")))
    return out


def crontab_commands() -> list[list[str]]:
    # cron passes "\%" to the shell as "%"
    return [args for _, cmd in crontab_entries()[1] for args in clusterwatch_commands(cmd.replace("\\%", "%"))]


def docker_commands() -> list[list[str]]:
    out = []
    for keyword, args in dockerfile():
        if keyword == "CMD":
            exec_form = json.loads(args)
            assert Path(exec_form[0]).name == "clusterwatch", exec_form
            out.append(exec_form[1:])
        elif keyword == "HEALTHCHECK":
            shell = re.sub(r"^(--[a-z-]+=\S+\s+)*CMD\s+", "", args)
            assert shell != args, f"HEALTHCHECK without CMD: {args}"
            out.extend(clusterwatch_commands(shell))
    return out


def readme_commands() -> list[list[str]]:
    out = []
    for lang, body in readme_deployment_blocks():
        if lang == "sh":
            for line in re.sub(r"\\\n", " ", body).splitlines():
                out.extend(clusterwatch_commands(line))
        elif lang == "cron":
            for line in body.splitlines():
                out.extend(clusterwatch_commands(line.split(None, 5)[5].replace("\\%", "%")))
    return out


@pytest.mark.parametrize(("where", "commands", "at_least"), [
    ("systemd units", unit_commands, 2),
    ("crontab", crontab_commands, 3),
    ("Dockerfile", docker_commands, 2),
    ("README Deployment", readme_commands, 6),
])
def test_every_deployed_command_line_parses(where: str, commands: Callable[[], list[list[str]]], at_least: int,
                                            parse_cli: Callable[[list[str]], str | None]) -> None:
    found = commands()
    assert len(found) >= at_least, f"{where}: found only {found}"
    problems = [f"clusterwatch {shlex.join(args)}: {err}" for args in found if (err := parse_cli(args))]
    assert not problems, f"{where}:\n" + "\n".join(problems)


def test_a_renamed_option_would_be_caught(parse_cli: Callable[[list[str]], str | None]) -> None:
    assert parse_cli(["run", "--once", "--config", CONFIG]) is None
    assert "No such option" in (parse_cli(["run", "--onse"]) or "")
    assert "No such command" in (parse_cli(["deamon"]) or "")
    assert parse_cli(["--log-format", "yaml", "daemon"])  # not a choice
    assert parse_cli(["backup"])  # PATH is required


# --- systemd -------------------------------------------------------------------------------------

SANDBOX = re.compile(r"(Protect|Private|Restrict|NoNewPrivileges|ReadWritePaths|UMask|LockPersonality"
                     r"|CapabilityBoundingSet|SystemCall|MemoryDeny)")


def test_daemon_unit_runs_as_its_own_user_with_its_state_dir_and_secrets() -> None:
    unit = read_unit(UNITS / "clusterwatch.service")
    assert "network-online.target" in one(unit, "Unit", "After")
    assert "network-online.target" in one(unit, "Unit", "Wants")
    assert one(unit, "Service", "User") == "clusterwatch"
    assert one(unit, "Service", "StateDirectory") == "clusterwatch"
    assert one(unit, "Service", "WorkingDirectory") == STATE_DIR
    assert one(unit, "Service", "EnvironmentFile") == "-/etc/clusterwatch/env"  # optional, owner-only
    exec_start = shlex.split(one(unit, "Service", "ExecStart"))
    assert exec_start[0].startswith("/") and Path(exec_start[0]).name == "clusterwatch"
    assert exec_start[1:] == ["--log-format", "json", "daemon", "--config", CONFIG]
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_daemon_unit_lets_checks_in_flight_finish_and_restarts_on_failure() -> None:
    unit = read_unit(UNITS / "clusterwatch.service")
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    # systemd's SIGKILL must come after the daemon's own grace for in-flight checks
    assert timespan(one(unit, "Service", "TimeoutStopSec")) >= SHUTDOWN_GRACE + 15
    assert one(unit, "Service", "Restart") == "on-failure"
    assert timespan(one(unit, "Service", "RestartSec")) >= 5


def test_daemon_unit_is_sandboxed() -> None:
    service = read_unit(UNITS / "clusterwatch.service")["Service"]
    expected = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                "PrivateDevices": "yes", "UMask": "0077", "ReadWritePaths": STATE_DIR, "CapabilityBoundingSet": ""}
    for key, value in expected.items():
        assert service.get(key) == [value], key
    assert sorted(" ".join(service["RestrictAddressFamilies"]).split()) == ["AF_INET", "AF_INET6", "AF_UNIX"]


def test_timer_starts_the_oneshot_unit_which_is_sandboxed_like_the_daemon() -> None:
    timer = read_unit(UNITS / "clusterwatch.timer")
    once = read_unit(UNITS / "clusterwatch-once.service")
    daemon = read_unit(UNITS / "clusterwatch.service")
    # Without Unit=, clusterwatch.timer would start clusterwatch.service: the daemon.
    assert (UNITS / one(timer, "Timer", "Unit")).name == "clusterwatch-once.service"
    assert (UNITS / one(timer, "Timer", "Unit")).is_file()
    assert one(timer, "Timer", "Persistent") == "true"
    assert timespan(one(timer, "Timer", "RandomizedDelaySec")) > 0
    assert one(timer, "Install", "WantedBy") == "timers.target"
    assert one(once, "Service", "Type") == "oneshot"
    assert shlex.split(one(once, "Service", "ExecStart"))[1:] == [
        "--log-format", "json", "run", "--once", "--config", CONFIG]
    assert "Install" not in once, "the oneshot is started by the timer only; enabling it on its own is a mistake"
    # A hung pass is stopped before the next one is due.
    assert timespan(one(once, "Service", "TimeoutStartSec")) < 30 * 60
    for key in ("User", "Group", "StateDirectory", "WorkingDirectory", "EnvironmentFile", "KillSignal"):
        assert once["Service"].get(key) == daemon["Service"].get(key), key
    sandbox = {k: v for k, v in daemon["Service"].items() if SANDBOX.match(k)}
    assert sandbox == {k: v for k, v in once["Service"].items() if SANDBOX.match(k)}
    assert len(sandbox) >= 15


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze(tmp_path: Path) -> None:
    # verify insists the ExecStart= binary exists: point it at this venv's clusterwatch.
    exe = Path(sys.executable).parent / "clusterwatch"
    if not exe.exists():
        pytest.skip(f"{exe} is missing (install the project into the venv: pip install -e .)")
    for path in UNITS.iterdir():
        text = path.read_text(encoding="utf-8").replace("/usr/local/bin/clusterwatch", str(exe))
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["clusterwatch-once.service", "clusterwatch.service", "clusterwatch.timer"]
    res = subprocess.run(["systemd-analyze", "verify", *names], cwd=tmp_path, capture_output=True, text=True,
                         timeout=30)
    # Unknown keys and unparseable values are only warnings (exit 0): any output is a failure.
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), res.stdout + res.stderr
    calendar = one(read_unit(UNITS / "clusterwatch.timer"), "Timer", "OnCalendar")
    res = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr


# --- cron ----------------------------------------------------------------------------------------

_CRON_FIELD = re.compile(r"(\*|\d+(-\d+)?|[a-z]{3})(/\d+)?(,(\d+(-\d+)?|[a-z]{3})(/\d+)?)*")


def test_crontab_runs_once_under_flock_with_a_sane_environment() -> None:
    env, jobs = crontab_entries()
    assert env.get("PATH", "").split(":")[:1] == ["/usr/local/bin"] and "/usr/bin" in env["PATH"].split(":")
    assert env.get("CLUSTERWATCH_CONFIG") == CONFIG
    assert env.get("SHELL") == "/bin/sh" and env.get("MAILTO")
    seen: set[str] = set()
    for fields, cmd in jobs:
        for f in fields:
            assert _CRON_FIELD.fullmatch(f), f"bad cron time field {f!r} in {cmd!r}"
        assert not re.search(r"(?<!\\)%", cmd), f"cron turns a bare % into a newline: {cmd!r}"
        for args in clusterwatch_commands(cmd.replace("\\%", "%")):
            command = next(a for a in args if not a.startswith("-"))
            seen.add(command)
            if command == "run":
                assert "--once" in args, cmd
                assert re.match(rf"flock -n {STATE_DIR}/\S+\.lock ", cmd), f"run --once without flock -n: {cmd!r}"
            # Every command loads the config, which needs the secrets; cron's environment has none.
            assert "clusterwatch-env clusterwatch" in cmd, f"without clusterwatch-env: {cmd!r}"
    assert {"run", "backup", "status"} <= seen


def test_env_wrapper_exports_secrets_and_the_config_path(tmp_path: Path) -> None:
    assert os.access(ENV_WRAPPER, os.X_OK), "deploy/clusterwatch-env must be executable"
    env_file = tmp_path / "env"
    env_file.write_text("# secrets\nCLUSTERWATCH_SMTP_PASSWORD='p@ss w$rd #1'\nHOOK=whsec_abc+/=\n", encoding="utf-8")
    show = ["sh", "-c", 'printf "%s|%s|%s" "$CLUSTERWATCH_SMTP_PASSWORD" "$HOOK" "$CLUSTERWATCH_CONFIG"']
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    res = subprocess.run([str(ENV_WRAPPER), *show], env={**base, "CLUSTERWATCH_ENV_FILE": str(env_file)},
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"p@ss w$rd #1|whsec_abc+/=|{CONFIG}"
    # An explicit config path wins; a missing env file is not an error (like EnvironmentFile=-…).
    res = subprocess.run([str(ENV_WRAPPER), *show], capture_output=True, text=True, timeout=30,
                         env={**base, "CLUSTERWATCH_ENV_FILE": str(tmp_path / "none"), "CLUSTERWATCH_CONFIG": "x.toml"})
    assert (res.returncode, res.stdout) == (0, "||x.toml"), res.stderr


# --- Docker --------------------------------------------------------------------------------------


def dockerignore_excludes(path: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context: the last matching line wins, a line
    matches a path or any folder above it, ``*`` stays within one folder and ``**`` crosses folders."""
    excluded = False
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]")
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_dockerignore_matcher() -> None:
    assert dockerignore_excludes(".git/HEAD") and dockerignore_excludes("tests/test_deploy.py")
    assert not dockerignore_excludes("scraper/cli.py")
    assert dockerignore_excludes("scraper/parse/__pycache__/jpage.cpython-311.pyc")


def test_image_runs_the_daemon_as_a_non_root_user() -> None:
    steps = dockerfile()
    keywords = [k for k, _ in steps]
    base = dict(steps)["FROM"]
    m = re.fullmatch(r"python:(\d+)\.(\d+)-slim(-\w+)?", base)
    assert m, f"base image should be python:3.X-slim with the minor version pinned: {base}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert requires == ">=3.11" and (int(m[1]), int(m[2])) >= (3, 11)
    users = [args for k, args in steps if k == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0"), users
    assert keywords.index("USER") < keywords.index("CMD")
    assert keywords.count("CMD") == 1 and "ENTRYPOINT" not in keywords
    assert json.loads(dict(steps)["CMD"]) == ["clusterwatch", "--log-format", "json", "daemon"]
    assert dict(steps)["STOPSIGNAL"] == "SIGTERM"
    assert dict(steps)["VOLUME"] == "/data"
    assert "CLUSTERWATCH_CONFIG=/data/clusterwatch.toml" in " ".join(a for k, a in steps if k == "ENV")
    for k, args in steps:
        if k == "RUN" and "apt-get install" in args:
            assert "--no-install-recommends" in args and "rm -rf /var/lib/apt/lists/*" in args, args
        if k == "RUN" and "pip install" in args:
            assert "--no-cache-dir" in args, args
    # The HEALTHCHECK tolerates exit 2 (a failing source) and nothing else.
    health = dict(steps)["HEALTHCHECK"]
    assert health.endswith("CMD clusterwatch status > /dev/null || [ $? -eq 2 ]"), health


def test_image_builds_from_exactly_the_package_files() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    copies: list[str] = []
    for k, args in dockerfile():
        if k == "COPY":
            assert not args.startswith("--from"), args
            copies.extend(a.rstrip("/") for a in args.split()[:-1])
    for src in copies:
        assert (ROOT / src).exists() and not dockerignore_excludes(src), f"COPY {src}: not in the build context"
    # pip install . needs the readme and every package the pyproject lists, with their data files.
    assert pyproject["project"]["readme"] in copies
    assert "pyproject.toml" in copies
    for package in pyproject["tool"]["setuptools"]["packages"]:
        top = package.split(".")[0]
        assert top in copies, f"package {package} is not copied into the image"
        for f in (ROOT / package.replace(".", "/")).rglob("*"):
            rel = f.relative_to(ROOT).as_posix()
            if f.is_file() and "__pycache__" not in rel:
                assert not dockerignore_excludes(rel), f"{rel} is left out of the image"
    for extra in re.findall(r"\.\[([\w,-]+)\]", " ".join(a for k, a in dockerfile() if k == "RUN")):
        for name in extra.split(","):
            assert name in pyproject["project"]["optional-dependencies"], f"no extra [{name}] in pyproject.toml"
    # Nothing else travels: the repository, the venv, tests, local databases, caches.
    for path in (".git/config", ".venv/bin/python", "tests/test_deploy.py", "docs/schema.md", "deploy/cron/x",
                 "clusterwatch.db", "config/cw.db-wal", "scraper/__pycache__/cli.cpython-311.pyc", "Dockerfile"):
        assert dockerignore_excludes(path), f"{path} would be sent to the build context"


# --- README ----------------------------------------------------------------------------------------


def test_readme_documents_every_deployment_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Deployment"):]
    files = [p.relative_to(ROOT).as_posix() for p in DEPLOY.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for name in [*files, "Dockerfile", ".dockerignore"]:
        assert f"`{name}`" in section, f"README's Deployment section does not mention {name}"
    langs = [lang for lang, _ in readme_deployment_blocks()]
    assert "sh" in langs and "cron" in langs
