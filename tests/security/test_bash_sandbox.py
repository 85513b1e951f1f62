"""The bash sandbox (settings ``sandbox``, claw.tools.sandbox), end to end through ``claw -p`` against the
fake model server, with the real bwrap and bash: an escape-attempt corpus where every case must fail
to have its effect (writes outside the workspace, through symlinks, ``cd ..``, ``/proc`` paths, into
the control files inside the workspace, network to a loopback server, Unix sockets, signals to claw,
TIOCSTI into a terminal),
and what must keep working (the workspace, ``--add-dir``, ``/tmp``, git, background shells).

The workspace and the targets live under /var/tmp, not /tmp: the sandbox's /tmp is a private directory,
which would hide a /tmp target instead of refusing the write. Tests that need bwrap skip without it,
except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Dict, List

import pytest

from claw.tools.sandbox import SandboxPolicy, SandboxSettings, bwrap_argv, excluded, seccomp_filter
from tests.cli.headless_helpers import ROOT, isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.processes import wait_until

BWRAP = shutil.which("bwrap")
ON = {"enabled": True}
# The interpreter itself, not a virtualenv's link to it: a checkout under /tmp (a CI clone) is hidden
# by the sandbox's private /tmp, and the commands below need nothing but the standard library.
PY = os.path.realpath(sys.executable)


@pytest.fixture
def need_bwrap() -> None:
    if BWRAP is None:
        if os.environ.get("CI"):
            pytest.fail("bubblewrap (bwrap) is missing: scripts/test installs it; CI must not skip these tests")
        pytest.skip("needs bubblewrap (bwrap)")


@pytest.fixture
def base():
    path = Path(tempfile.mkdtemp(prefix="claw-sbx-test-", dir="/var/tmp")).resolve()
    for name in ("ws", "outside", "added", "home/.claw"):
        (path / name).mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path / "ws")], check=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run(base: Path, monkeypatch, commands, *argv: str, settings=None, background=(), mode="default", **env: str):
    """One ``claw -p`` run in permission ``mode`` whose model calls bash once per command (``background``:
    the indexes run with run_in_background); returns (json result, outputs by call index, stderr, exit code)."""
    script = [reply(tool_uses=[tool_use("bash", dict({"command": c}, **({"run_in_background": True}
                                                                        if i in background else {})),
                                        id=f"t{i}")]) for i, c in enumerate(commands)]
    settings = {"sandbox": ON} if settings is None else settings
    with ModelServer(script + [reply(text="done")]) as srv:
        run = run_inprocess(["-p", "go", "--output-format", "json", "--settings", json.dumps(settings),
                             "--permission-mode", mode, *argv],
                            isolated_env(srv.env(), base / "home", **env), monkeypatch, base / "ws")
    result = run.json if run.code == 0 else {}
    outputs = {int(r["tool_use_id"][1:]): r["output"] for r in result.get("tool_results", [])}
    return result, outputs, run.stderr, run.code


class _Listener:
    """A server that records whether anyone connected (TCP on loopback, or a Unix socket)."""

    def __init__(self, family: int, address) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.connected: List[object] = []
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connected.append(conn)
            conn.close()

    def close(self) -> None:
        self.stop = True
        self.sock.close()


def test_the_escape_corpus_fails_and_the_workspace_works(need_bwrap, base, monkeypatch):
    ws, out = base / "ws", base / "outside"
    (ws / "link").symlink_to(out)
    host_tmp = Path("/tmp") / f"claw-sbx-escape-{os.getpid()}"
    etc = Path("/etc") / f"claw-sbx-escape-{os.getpid()}"
    tcp = _Listener(socket.AF_INET, ("127.0.0.1", 0))
    unix = _Listener(socket.AF_UNIX, str(out / "agent.sock"))
    port = tcp.sock.getsockname()[1]
    me = os.getpid()  # claw runs in this process
    master, slave = pty.openpty()  # a terminal of the user's: typing into it with TIOCSTI must fail
    tty = os.ttyname(slave)
    corpus = {
        "home": "echo x > ~/pwned",
        "outside": f"echo x > {out}/direct",
        "host tmp": f"echo x > {host_tmp}; echo private=$?",
        "etc": f"echo x > {etc}",
        "symlink": "echo x > link/via-link",
        "cd ..": "cd .. && echo x > up-one",
        "settings": "mkdir -p .claude; echo '{\"hooks\": {}}' > .claude/settings.json",
        "claw settings": "echo '{}' > .claw/settings.json",
        "git hook": "echo 'touch pwned' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit",
        "git config": "echo '[core] hooksPath = /x' >> .git/config",
        # settings files a later run would obey, missing before the run: covered for the run
        "new project settings": "echo '{\"hooks\": {}}' > .claw.json",
        "new mcp file": "echo '{\"mcpServers\": {}}' > .mcp.json; mv .mcp.json x.json",
        "tcp": f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED",
        "unix": f"{PY} -c \"import socket; s = socket.socket(socket.AF_UNIX); "
                f"s.connect('{out}/agent.sock'); print('CONNECTED')\"",
        "proc self root": f"echo x > /proc/self/root{out}/proc-self",
        "proc claw": f"echo x > /proc/{me}/root{out}/proc-claw; echo x > /proc/{me}/cwd/proc-cwd",
        "proc 1": f"cd /proc/1/root{out} && echo x > proc-1",
        "kill claw": f"kill -0 {me} && echo SIGNALLED",
        "remount": "mount -o remount,rw / && echo REMOUNTED; echo x > /etc/claw-remount",
        "sysctl": "echo 3 > /proc/sys/kernel/printk_ratelimit",
        "tiocsti": f"{PY} -c \"import fcntl, os, termios; "
                   f"fcntl.ioctl(os.open('{tty}', os.O_RDWR), termios.TIOCSTI, b'X'); print('INJECTED')\"",
        # even into a terminal of its own, made its controlling terminal: the seccomp filter refuses it
        "tiocsti own": f"{PY} -c \"import fcntl, os, pty, termios\n"
                       f"if os.fork() == 0:\n os.setsid(); m, s = pty.openpty(); fd = os.open(os.ttyname(s), os.O_RDWR)\n"
                       f" fcntl.ioctl(fd, termios.TIOCSTI, b'X'); print('INJECTED')\nelse: os.wait()\"",
    }
    ratelimit = Path("/proc/sys/kernel/printk_ratelimit")
    sysctl = ratelimit.read_text()
    keys = list(corpus)
    try:
        # bypassPermissions: no protected-file prompt stands in front of the sandbox; it alone must hold
        result, outputs, err, code = _run(base, monkeypatch, list(corpus.values()), mode="bypassPermissions")
    finally:
        tcp.close()
        unix.close()
        typed = select.select([master], [], [], 0.2)[0] and os.read(master, 100)
        os.close(master)
        os.close(slave)
        escaped = [p for p in (host_tmp, etc, Path("/etc/claw-remount")) if p.exists()]
        for p in escaped:
            p.unlink()
        changed = ratelimit.read_text() != sysctl
        if changed:  # an escape: put the host back as it was
            ratelimit.write_text(sysctl)
    assert code == 0, err
    assert result["permission_denials"] == []
    by = {k: outputs[i] for i, k in enumerate(keys)}
    assert escaped == []
    assert sorted(os.listdir(out)) == ["agent.sock"]
    assert not (base / "home" / "pwned").exists() and not (base / "up-one").exists()
    assert "private=0" in by["host tmp"]  # the write went to the private /tmp
    assert not (ws / ".claude" / "settings.json").exists() and not (ws / ".claw" / "settings.json").exists()
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert "hooksPath" not in (ws / ".git" / "config").read_text()
    # the empty covers are gone with the run: nothing was written to them
    assert not (ws / ".claw.json").exists() and not (ws / ".mcp.json").exists() and not (ws / "x.json").exists()
    assert not (ws / "proc-cwd").exists()  # this process's cwd is not the workspace... nor reachable
    assert tcp.connected == [] and unix.connected == []
    assert "CONNECTED" not in by["tcp"] and "CONNECTED" not in by["unix"]
    assert "SIGNALLED" not in by["kill claw"] and "REMOUNTED" not in by["remount"]
    assert not changed
    for key in ("unix", "tiocsti", "tiocsti own"):  # the interpreter ran: what stopped it was the sandbox
        assert "[exit code 127]" not in by[key], (key, by[key])
    assert "Operation not permitted" in by["unix"]
    assert not typed and "INJECTED" not in by["tiocsti"]
    assert "Operation not permitted" in by["tiocsti own"] and "INJECTED" not in by["tiocsti own"]
    for key in ("home", "etc", "symlink", "cd ..", "settings", "git hook", "git config", "new project settings",
                "new mcp file", "proc self root", "proc 1", "sysctl"):
        assert "Read-only file system" in by[key], (key, by[key])


def test_the_workspace_added_dir_tmp_git_and_background_shells_work(need_bwrap, base, monkeypatch):
    ws, added = base / "ws", base / "added"
    wait = "for i in $(seq 100); do [ -s bg.txt ] && break; sleep 0.05; done; cat bg.txt"
    commands = [
        f"echo in-ws > a.txt && echo in-added > {added}/b.txt && echo tmp > /tmp/keep && echo ok",
        "cat /tmp/keep; git status --short",
        f"echo bg > bg.txt; echo x > {base}/outside/bg; echo bg-status=$? >> bg.txt",
        wait,
        "cd sub 2>/dev/null || mkdir sub && cd sub && pwd",
        "pwd",
        "sleep 3017",
    ]
    result, outputs, err, code = _run(base, monkeypatch, commands, "--add-dir", str(added), background={2, 6})
    assert code == 0, err
    assert "unknown key" not in err  # a key of claw's own settings too
    assert result["permission_denials"] == []
    assert (ws / "a.txt").read_text() == "in-ws\n" and (added / "b.txt").read_text() == "in-added\n"
    assert outputs[1].splitlines()[0] == "tmp" and "?? a.txt" in outputs[1]
    assert "bg-status=1" in outputs[3] and not (base / "outside" / "bg").exists()
    assert outputs[5].strip() == str(ws / "sub")  # the cd carried over
    assert not list(Path("/tmp").glob("claw-sandbox-*/keep")), "the private /tmp outlived the run"
    assert wait_until(lambda: subprocess.run(["pgrep", "-f", "sleep 3017"]).returncode == 1, 5), \
        "a sandboxed background job outlived the run"


def test_sandbox_network_is_ignored_with_a_warning_and_there_is_no_network(need_bwrap, base, monkeypatch):
    tcp = _Listener(socket.AF_INET, ("127.0.0.1", 0))
    settings = {"sandbox": dict(ON, network={"allowedDomains": ["127.0.0.1", "localhost"]})}
    try:
        _, outputs, err, code = _run(base, monkeypatch, [f"exec 3<>/dev/tcp/127.0.0.1/{tcp.sock.getsockname()[1]}"],
                                     settings=settings)
    finally:
        tcp.close()
    assert code == 0, err
    assert "unknown key sandbox.network" in err
    assert "Connection refused" in outputs[0] and tcp.connected == []


def test_rules_still_apply_and_auto_allow_can_be_turned_off(need_bwrap, base, monkeypatch):
    settings = {"sandbox": ON, "permissions": {"deny": ["Bash(touch:*)"]}}
    result, _, err, code = _run(base, monkeypatch, ["touch denied.txt", "echo ok > fine.txt"], settings=settings)
    assert code == 0, err
    assert [d["tool_use_id"] for d in result["permission_denials"]] == ["t0"]
    assert not (base / "ws" / "denied.txt").exists() and (base / "ws" / "fine.txt").exists()
    settings = {"sandbox": dict(ON, autoAllowBashIfSandboxed=False)}
    result, _, err, code = _run(base, monkeypatch, ["echo x > asked.txt"], settings=settings)
    assert [d["tool_use_id"] for d in result["permission_denials"]] == ["t0"]  # headless: the ask is a denial


@pytest.mark.parametrize("project", [{"enabled": False}, {"excludedCommands": ["echo"]}])
def test_an_untrusted_project_cannot_loosen_the_users_sandbox(need_bwrap, base, monkeypatch, project):
    (base / "home" / "settings.json").write_text(json.dumps({"sandbox": ON}))
    (base / "ws" / ".claude").mkdir()
    (base / "ws" / ".claude" / "settings.json").write_text(json.dumps({"sandbox": project}))
    target = base / "outside" / "loosened"
    result, outputs, err, code = _run(base, monkeypatch, [f"echo x > {target}"], settings={}, mode="bypassPermissions")
    assert code == 0, err
    assert "Read-only file system" in outputs[0] and not target.exists()


def test_excluded_commands_run_outside_through_the_normal_checks(need_bwrap, base, monkeypatch):
    target = base / "outside" / "excluded"
    settings = {"sandbox": dict(ON, excludedCommands=["touch"])}
    result, _, err, code = _run(base, monkeypatch, [f"touch {target}"], settings=settings)
    assert [d["tool_use_id"] for d in result["permission_denials"]] == ["t0"] and not target.exists()
    result, _, err, code = _run(base, monkeypatch, [f"touch {target}"], mode="bypassPermissions",
                                settings=settings)
    assert code == 0, err
    assert target.exists()  # unsandboxed: the write outside the workspace happened


def test_a_home_inside_the_workspace_keeps_its_start_up_files(need_bwrap, base, monkeypatch):
    home = base / "home"  # made writable with --add-dir: what a login shell or ssh reads stays read-only
    (home / ".bashrc").write_text("# mine\n")
    (home / ".ssh").mkdir()
    commands = ["echo evil >> ~/.bashrc", "echo key > ~/.ssh/authorized_keys", "echo ok > ~/notes.txt"]
    result, outputs, err, code = _run(base, monkeypatch, commands, "--add-dir", str(home), mode="bypassPermissions")
    assert code == 0, err
    assert (home / ".bashrc").read_text() == "# mine\n" and "Read-only file system" in outputs[0]
    assert not (home / ".ssh" / "authorized_keys").exists() and "Read-only file system" in outputs[1]
    assert (home / "notes.txt").read_text() == "ok\n"  # the rest of the home directory is workspace


def test_a_symlinked_control_directory_is_refused(need_bwrap, base, monkeypatch):
    (base / "outside" / "conf").mkdir()
    (base / "ws" / ".claude").symlink_to(base / "ws" / "sub", target_is_directory=True)
    (base / "ws" / "sub").mkdir()
    result, outputs, err, code = _run(base, monkeypatch, ["echo ran > ran.txt"])
    assert code == 0, err
    assert "cannot protect" in outputs[0] and not (base / "ws" / "ran.txt").exists()


def test_claw_mcp_serve_sandboxes_its_bash_too(need_bwrap, base):
    from tests.mcp.helpers import PY, run, server, tool_text

    ws, target = base / "ws", base / "outside" / "via-mcp"

    async def main():
        me = server("claw", {"command": PY, "args": ["-m", "claw.cli.mcp_cmd", "serve", "--cwd", str(ws),
                                                     "--permission-mode", "danger-full-access",
                                                     "--settings", json.dumps({"sandbox": ON})]},
                    env={"CLAW_CONFIG_HOME": str(base / "home"), "HOME": str(base / "home")})
        try:
            await me.connect()
            assert me.status == "connected", (me.error, me.diagnostics())
            return await me.call_tool("bash", {"command": f"echo in > in.txt; echo x > {target}"})
        finally:
            await me.aclose()

    result = run(main())
    assert "Read-only file system" in tool_text(result)
    assert (ws / "in.txt").exists() and not target.exists()


def _bin_without_bwrap(base: Path) -> str:
    path = base / "bin"
    path.mkdir()
    for name in ("bash", "git"):
        (path / name).symlink_to(shutil.which(name))
    return str(path)


def test_without_bwrap_fail_if_unavailable_stops_the_run(base, monkeypatch):
    settings = {"sandbox": dict(ON, failIfUnavailable=True)}
    result, _, err, code = _run(base, monkeypatch, ["echo hi"], settings=settings, PATH=_bin_without_bwrap(base))
    assert code == 2
    assert "no sandbox can be made: bubblewrap (bwrap) is not installed" in err and "apt-get install bubblewrap" in err
    assert "Traceback" not in err


def test_without_bwrap_a_warning_and_the_normal_checks(base, monkeypatch):
    path = _bin_without_bwrap(base)
    result, _, err, code = _run(base, monkeypatch, ["echo x > plain.txt"], PATH=path)
    assert code == 0, err
    assert [line for line in err.splitlines() if "sandbox: not available" in line]
    assert [d["tool_use_id"] for d in result["permission_denials"]] == ["t0"]  # no auto-allow
    target = base / "outside" / "unsandboxed"
    result, _, err, code = _run(base, monkeypatch, [f"echo x > {target}"], mode="bypassPermissions",
                                PATH=path)
    assert code == 0 and target.exists()


def _doctor(base: Path, settings: Dict, path: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=path, HOME=str(base / "home"),
               CLAW_CONFIG_HOME=str(base / "home" / ".claw"))
    proc = subprocess.run([sys.executable, "-m", "claw", "doctor", "--offline", "--settings", json.dumps(settings)],
                          cwd=base / "ws", env=env, capture_output=True, text=True, timeout=60)
    return next(line for line in proc.stdout.splitlines() if "] sandbox " in line)


def test_doctor_says_whether_a_sandbox_can_be_made(need_bwrap, base):
    line = _doctor(base, {"sandbox": ON}, os.environ["PATH"])
    assert line.startswith("[ok  ] sandbox") and "bubblewrap" in line and line.endswith(", enabled")
    line = _doctor(base, {"sandbox": dict(ON, failIfUnavailable=True)}, _bin_without_bwrap(base))
    assert line.startswith("[FAIL] sandbox") and "bwrap) is not installed" in line


# --- the pure parts --------------------------------------------------------------------------------

def test_the_settings_keys_and_defaults():
    assert SandboxSettings.parse(None) == SandboxSettings()
    got = SandboxSettings.parse({"enabled": True, "autoAllowBashIfSandboxed": False, "excludedCommands": ["docker", 3],
                                 "failIfUnavailable": True})
    assert got == SandboxSettings(True, False, ("docker",), True)
    assert SandboxSettings.parse({"enabled": "yes"}).enabled is False


def test_excluded_commands_match_any_simple_command():
    assert excluded("docker ps", ["docker"]) and excluded("cd x && FOO=1 docker run", ["docker:*"])
    assert excluded("git push origin", ["git push"]) and not excluded("git status", ["git push"])
    assert not excluded("echo docker", ["docker"]) and not excluded("dockerd", ["docker"])


def test_the_bwrap_command_line_confines_as_documented():
    policy = SandboxPolicy(("/w",), ("/w/.claude",), "/tmp/p", "/w/sub")
    argv = bwrap_argv("bwrap", policy, ["bash", "-c", "x"], 5)
    text = " ".join(argv)
    for part in ("--die-with-parent", "--unshare-pid", "--unshare-net", "--cap-drop ALL",
                 "--ro-bind / /", "--dev /dev", "--proc /proc", "--ro-bind /proc/sys /proc/sys",
                 "--bind /tmp/p /tmp", "--bind /w /w", "--ro-bind /w/.claude /w/.claude", "--seccomp 5",
                 "--chdir /w/sub -- bash -c x"):
        assert part in text, part
    assert text.index("--bind /w /w") < text.index("--ro-bind /w/.claude")  # the read-only bind wins
    assert len(seccomp_filter("x86_64")) == 14 * 8 and seccomp_filter("sparc") is None
