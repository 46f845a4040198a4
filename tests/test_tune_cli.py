"""User errors of ``track2vec-tune``: one line on stderr, exit code 2, nothing written or overwritten.

None of these starts Ray: every check happens before ``ray.init``.
"""

from __future__ import annotations

import socket

import pytest

from track2vec.errors import ConfigError
from tune.cli import build_parser, main
from tune.spec import StudySpec
from tune.study import Study, resolve_storage


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("track2vec-tune: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket closes


def test_trials_zero_is_refused(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "--trials", "0", "--storage", str(tmp_path))
    assert_one_line_error(code, err, "--trials", "at least 1")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, fragment", [
    (["--max-epochs", "2", "--grace-period", "3"], "--grace-period"),
    (["--reduction-factor", "1"], "--reduction-factor"),
    (["--cpus-per-trial", "-1"], "--cpus-per-trial"),
    (["--name", "a/b"], "--name"),
    (["--data", "/no/such/file.npy"], "no such file"),
])
def test_bad_run_options_are_refused(capsys, tmp_path, argv, fragment):
    code, _, err = run_cli(capsys, "run", "--storage", str(tmp_path), "--name", "s", *argv)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "s").exists()


def test_bad_config_file_is_refused_before_anything_starts(capsys, tmp_path):
    config = tmp_path / "space.toml"
    config.write_text("window = -1\n")
    storage = tmp_path / "studies"
    code, _, err = run_cli(capsys, "run", "--data", "builtin:tiny", "--config", str(config),
                           "--storage", str(storage), "--name", "s")
    assert_one_line_error(code, err, "window", "must be >= 1")
    assert not storage.exists()


def test_unreachable_address_is_refused(capsys, tmp_path):
    port = closed_port()
    code, _, err = run_cli(capsys, "run", "--data", "builtin:tiny", "--address", f"127.0.0.1:{port}",
                           "--storage", str(tmp_path), "--name", "s")
    assert_one_line_error(code, err, f"127.0.0.1:{port}")
    assert not (tmp_path / "s").exists()
    code, _, err = run_cli(capsys, "run", "--data", "builtin:tiny", "--address", f"ray://127.0.0.1:{port}",
                           "--storage", str(tmp_path), "--name", "s")
    assert_one_line_error(code, err, "cannot reach")


class TokenCheckingGcs:
    """A gRPC server that answers the GCS's first question (its cluster id) only to the token "right"."""

    def __init__(self) -> None:
        import grpc
        from concurrent import futures

        from tune.adapters.ray_auth import GCS_METHOD, GCS_SERVICE

        def cluster_id(request, context):
            if ("authorization", "Bearer right") not in tuple(context.invocation_metadata()):
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "InvalidAuthToken")
            return b""

        class Handler(grpc.GenericRpcHandler):
            def service(self, details):
                if details.method == f"/{GCS_SERVICE}/{GCS_METHOD}":
                    return grpc.unary_unary_rpc_method_handler(cluster_id)
                return None

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[Handler()])
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()


@pytest.fixture
def token_checking_gcs():
    gcs = TokenCheckingGcs()
    yield gcs
    gcs.server.stop(None)


@pytest.mark.slow  # a fresh process per case: Ray reads its authentication settings once per process
@pytest.mark.parametrize("environment, says", [
    ({}, "requires token authentication: set RAY_AUTH_MODE=token in this shell"),
    ({"RAY_AUTH_MODE": "token"}, "RAY_AUTH_MODE=token but this machine has no Ray token: set RAY_AUTH_TOKEN"),
    ({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "wrong"}, "refused this machine's token"),
], ids=["no token mode", "no token", "wrong token"])
def test_a_driver_that_cannot_authenticate_says_what_to_set_in_one_line(tmp_path, tune_cli, token_checking_gcs,
                                                                          environment, says):
    home = tmp_path / "home"  # no ~/.ray/auth_token
    home.mkdir()
    tune_cli.env = {key: value for key, value in tune_cli.env.items() if not key.startswith("RAY_AUTH")}
    tune_cli.env.update(HOME=str(home), **environment)
    result = tune_cli.run("run", "--data", "builtin:tiny", "--address", token_checking_gcs.address,
                          "--storage", str(tmp_path / "studies"), "--name", "s", timeout=120)
    assert_one_line_error(result.returncode, result.stderr, f"the Ray cluster at {token_checking_gcs.address}"
                          if "RAY_AUTH_TOKEN" in environment or not environment else token_checking_gcs.address, says,
                          "the head node's token (`ray get-auth-token` on the head prints it)")
    assert not (tmp_path / "studies").exists()


@pytest.mark.parametrize("command", ["resume", "export", "status", "report"])
def test_unknown_study_name_is_refused(capsys, tmp_path, command):
    code, _, err = run_cli(capsys, command, "--name", "ghost", "--storage", str(tmp_path))
    assert_one_line_error(code, err, "no study named 'ghost'", str(tmp_path))


def test_existing_study_is_not_overwritten(capsys, tmp_path):
    study = Study(str(tmp_path), "taken")
    study.create()
    study.save_spec(StudySpec(name="taken", seed=7))
    before = (tmp_path / "taken" / "study.json").read_text()
    code, _, err = run_cli(capsys, "run", "--data", "builtin:tiny", "--storage", str(tmp_path), "--name", "taken")
    # the command it suggests names the storage too, so it works as printed
    assert_one_line_error(code, err, "already exists", f"resume --name taken --storage {tmp_path}`")
    assert (tmp_path / "taken" / "study.json").read_text() == before


def test_help_is_for_users_and_says_what_a_missing_name_becomes(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    top = capsys.readouterr().out
    assert "``" not in top and "tune/run.py" not in top and "COMMAND --help" in top
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    assert "study-<date>-<time>" in " ".join(capsys.readouterr().out.split())


def test_relative_storage_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_storage("studies") == str(tmp_path / "studies")
    assert resolve_storage("file:///srv/studies") == "/srv/studies"
    assert resolve_storage("s3://bucket/studies/") == "s3://bucket/studies"
    monkeypatch.setenv("TRACK2VEC_STORAGE", str(tmp_path / "env"))
    assert resolve_storage(None) == str(tmp_path / "env")


def test_status_lists_studies_without_a_cluster(capsys, tmp_path):
    Study(str(tmp_path), "one").create()
    Study(str(tmp_path), "one").save_spec(StudySpec(name="one"))
    code, out, _ = run_cli(capsys, "status", "--storage", str(tmp_path))
    assert code == 0 and "one" in out


def test_console_script_reports_one_line_and_exit_2(tmp_path, tune_cli):
    done = tune_cli.run("export", "--name", "ghost", "--storage", str(tmp_path), timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"track2vec-tune: error: no study named 'ghost' in {tmp_path}"]


def test_run_resume_refuses_different_settings(capsys, tmp_path):
    study = Study(str(tmp_path), "old")
    study.create()
    study.save_spec(StudySpec(name="old", trials=12, max_epochs=6, seed=0, min_count=2, grace_period=1,
                              reduction_factor=3.0))
    code, _, err = run_cli(capsys, "run", "--resume", "--trials", "5", "--storage", str(tmp_path), "--name", "old")
    assert_one_line_error(code, err, "--trials 12, not 5")


def test_unwritable_storage_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot create the study directory"):
        Study(str(blocker), "s").create()
    assert blocker.read_text() == "not a directory"
