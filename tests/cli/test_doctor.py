"""`claw doctor` run as a user would (``python -m claw doctor``) with a controlled environment.

Every run here is ``--offline`` unless a test says otherwise (the reachability check is the only one
that uses the network; tests/cli/test_doctor_reachability.py drives it against local peers), runs in
an empty temporary project, and has an API key so the credentials check passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import trustme

from claw import __version__

REPO = Path(__file__).resolve().parents[2]
_WORK: list = []


@pytest.fixture(autouse=True)
def _project(tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    _WORK[:] = [work]
    yield work
    _WORK.clear()


def doctor(*args: str, env: dict | None = None, cwd: Path | None = None, target=None, offline: bool = True,
           key: bool = True):
    work = cwd or _WORK[0]
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "PYTHONPATH": str(REPO),
        "NO_COLOR": "1",
    }
    if key:
        base["ANTHROPIC_API_KEY"] = "sk-ant-test-SECRET"
    base.update(env or {})
    cmd = [sys.executable] + (target or ["-m", "claw"]) + ["doctor", *args] + (["--offline"] if offline else [])
    return subprocess.run(cmd, env=base, cwd=str(work), capture_output=True, text=True, timeout=120)


def doctor_json(env: dict | None = None, **kw):
    proc = doctor("--json", env=env, **kw)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout + proc.stderr
    data = json.loads(lines[0])
    return proc, data, {c["name"]: c for c in data["checks"]}


def test_help():
    proc = doctor("--help")
    assert proc.returncode == 0
    assert "Usage: claw doctor" in proc.stdout and "--json" in proc.stdout


def test_unknown_argument_is_usage_error():
    proc = doctor("--bogus")
    assert proc.returncode == 2
    assert "--bogus" in proc.stderr and proc.stdout == ""


def test_clean_environment_passes():
    proc, data, checks = doctor_json()
    assert proc.returncode == 0, proc.stdout
    assert data["status"] in ("ok", "warn") and data["exit_code"] == 0
    assert list(checks) == ["python", "install", "dependencies", "settings", "folder trust", "credentials", "model", "tls trust",
                            "proxy", "reachability", "mcp servers", "plugins", "sessions", "sandbox"]
    for check in data["checks"]:
        assert check["status"] in ("ok", "warn", "fail")
        assert set(check) == {"name", "status", "summary", "details", "hint"}
    py = checks["python"]
    assert py["status"] == "ok"
    assert "%d.%d." % sys.version_info[:2] in py["summary"] and sys.executable in py["summary"]
    assert checks["install"]["summary"].endswith(f"from the source tree {REPO}")
    assert any(d.startswith("certifi (bundled): ") for d in checks["tls trust"]["details"])
    assert checks["proxy"]["summary"] == "default API URL https://api.anthropic.com -> direct"
    assert checks["reachability"]["summary"].startswith("skipped (--offline): anthropic base URL "
                                                        "https://api.anthropic.com (default) via direct")
    assert "sk-ant-test-SECRET" not in proc.stdout + proc.stderr


def test_text_output_has_every_check():
    proc = doctor()
    assert proc.returncode == 0
    for name in ("python", "install", "settings", "credentials", "model", "tls trust", "proxy",
                 "reachability", "mcp servers", "sessions"):
        assert f"] {name}" in proc.stdout
    assert "failed," in proc.stdout


def test_proxy_is_shown_redacted():
    env = {"HTTPS_PROXY": "http://alice:hunter2@proxy.corp:3128", "NO_PROXY": "internal.corp"}
    proc, _, checks = doctor_json(env)
    assert proc.returncode == 0
    assert checks["proxy"]["summary"] == (
        "default API URL https://api.anthropic.com -> http://alice:***@proxy.corp:3128 (from HTTPS_PROXY)")
    assert "hunter2" not in proc.stdout + proc.stderr
    text = doctor(env=env)
    assert "hunter2" not in text.stdout + text.stderr and "alice:***@proxy.corp" in text.stdout


def test_no_proxy_match_for_internal_gateway():
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "no_proxy": "localhost, .gw.corp",
           "ANTHROPIC_BASE_URL": "https://llm.gw.corp/anthropic"}
    _, _, checks = doctor_json(env)
    assert checks["proxy"]["summary"] == (
        "ANTHROPIC_BASE_URL https://llm.gw.corp -> direct (NO_PROXY match: .gw.corp)")


def test_local_model_server_is_direct_by_loopback():
    env = {"ALL_PROXY": "socks5h://proxy.corp:1080", "ANTHROPIC_BASE_URL": "http://127.0.0.1:11434"}
    _, _, checks = doctor_json(env)
    assert checks["proxy"]["summary"].endswith("-> direct (NO_PROXY match: loopback)")


def test_bad_proxy_url_fails_without_echoing_the_password():
    proc, data, checks = doctor_json({"https_proxy": "http://bob:s3cret@proxy.corp:port"})
    assert proc.returncode == 1 and data["status"] == "fail" and data["exit_code"] == 1
    assert checks["proxy"]["status"] == "fail"
    assert checks["proxy"]["summary"].startswith("https_proxy ")
    assert "s3cret" not in proc.stdout + proc.stderr


def test_invalid_base_url_fails():
    proc, _, checks = doctor_json({"ANTHROPIC_BASE_URL": "api.example.com"})
    assert proc.returncode == 1
    assert checks["proxy"]["status"] == "fail" and "ANTHROPIC_BASE_URL" in checks["proxy"]["summary"]
    assert checks["proxy"]["hint"]


def test_ca_sources_counted_and_missing_file_warns(tmp_path):
    ca = trustme.CA()
    bundle = tmp_path / "corp.pem"
    bundle.write_bytes(ca.cert_pem.bytes() + trustme.CA().cert_pem.bytes())
    env = {"NODE_EXTRA_CA_CERTS": str(bundle), "SSL_CERT_FILE": str(tmp_path / "missing.pem")}
    proc, data, checks = doctor_json(env)
    assert proc.returncode == 0 and data["status"] == "warn"
    tls = checks["tls trust"]
    assert tls["status"] == "warn"
    assert f"NODE_EXTRA_CA_CERTS {bundle}: 2 certificates" in tls["details"]
    assert f"SSL_CERT_FILE {tmp_path / 'missing.pem'}: not loaded (file not found)" in tls["details"]
    assert "SSL_CERT_FILE" in tls["hint"]


def test_client_certificate_missing_fails(tmp_path):
    proc, _, checks = doctor_json({"CLAW_CLIENT_CERT": str(tmp_path / "client.pem")})
    assert proc.returncode == 1
    assert checks["tls trust"]["status"] == "fail"
    assert any("client.pem not found" in d for d in checks["tls trust"]["details"])


def test_client_certificate_loaded_is_described(tmp_path):
    ca = trustme.CA()
    leaf = ca.issue_cert("me@example.com", common_name="me")
    cert = tmp_path / "client.pem"
    cert.write_bytes(leaf.private_key_pem.bytes() + leaf.cert_chain_pems[0].bytes())
    proc, _, checks = doctor_json({"CLAW_CLIENT_CERT": str(cert)})
    assert proc.returncode == 0
    assert checks["tls trust"]["summary"].endswith("client certificate loaded")
    assert any(d.startswith(f"client certificate {cert}: CN=me") for d in checks["tls trust"]["details"])


def test_running_from_a_pyz_reports_its_path(tmp_path):
    pyz = tmp_path / "claw.pyz"
    with zipfile.ZipFile(pyz, "w") as zf:
        for path in sorted((REPO / "claw").rglob("*.py")):
            if "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(REPO).as_posix())
        zf.writestr("__main__.py", "from claw.cli.main import entry\nentry()\n")
    # run from an empty directory, without the source tree on sys.path
    work = tmp_path / "empty"
    work.mkdir()
    proc = doctor("--json", cwd=work, target=[str(pyz)], env={"PYTHONPATH": ""})
    data = json.loads(proc.stdout)
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["install"]["summary"] == f"claw {__version__} from the .pyz {pyz}", proc.stderr


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_via_main_dispatch(flag):
    proc = doctor(flag)
    assert proc.returncode == 0 and "Exit status" in proc.stdout


def test_value_flags_and_their_errors(tmp_path):
    proc = doctor("--cwd", offline=False)
    assert proc.returncode == 2 and "--cwd needs a value" in proc.stderr
    proc = doctor("--cwd", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "is not a directory" in proc.stderr
    other = tmp_path / "other"
    (other / ".claw").mkdir(parents=True)
    (other / ".claw" / "settings.json").write_text('{"model": "haiku"}')
    proc = doctor("--json", f"--cwd={other}", "--settings", '{"permissions": {"defaultMode": "plan"}}')
    data = json.loads(proc.stdout)
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["settings"]["summary"] == "2 settings files, valid"
    assert checks["model"]["summary"].startswith("anthropic/claude-haiku-5-5")
    proc = doctor("--json", "--model", "opus", "--cwd", str(other))
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["model"]["summary"].startswith("anthropic/claude-opus-5-5")
    assert "chosen by: opus from --model" in checks["model"]["details"]


def test_a_broken_project_is_exit_1_with_every_problem(_project):
    (_project / ".claw").mkdir()
    (_project / ".claw" / "settings.json").write_text('{"model": "sonnet",\n  "permissions": {"allow": "Bash"}}')
    (_project / ".claw.json").write_text('{"model": 1,}')
    proc = doctor()
    assert proc.returncode == 1
    assert "[FAIL] settings" in proc.stdout
    assert f"{_project / '.claw.json'}, line 1 column" in proc.stdout
    assert "permissions.allow" in proc.stdout


def test_settings_proxy_is_used_by_the_proxy_and_reachability_checks(_project):
    (_project / ".claw").mkdir()
    (_project / ".claw" / "settings.json").write_text(
        json.dumps({"network": {"proxy": "http://carol:pw9@proxy.corp:3128"}}))
    proc, _, checks = doctor_json()
    assert "http://carol:***@proxy.corp:3128" in checks["reachability"]["summary"]
    assert "pw9" not in proc.stdout + proc.stderr
