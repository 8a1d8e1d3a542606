"""Which files a review reads, how the diff fits the budget, and the deterministic risk floor."""

from __future__ import annotations

from devmetrics_app.ai.analysis import AnalysisSettings, PullRequestInput, analyse_pull_request
from devmetrics_app.ai.budget import (
    SKIP_DELETION_ONLY,
    SKIP_OVER_BUDGET,
    Candidate,
    drop_deletion_only_hunks,
    estimate_tokens,
    select_diff,
)
from devmetrics_app.ai.files import (
    SKIP_BINARY,
    SKIP_GENERATED,
    SKIP_LOCKFILE,
    SKIP_NO_PATCH,
    SKIP_VENDORED,
    GitAttributes,
    PrFile,
    classify,
)
from devmetrics_app.ai.risk_floor import compute_floor, sensitive_categories

PR = PullRequestInput(repository="acme/app", number=7, title="Refactor", body="", repo_url="https://github.com/acme/app")


def patch_for(lines: int, *, start: int = 1, width: int = 60) -> str:
    body = "\n".join(f"+    value_{i} = compute({i}, '{'x' * (width - 30)}')" for i in range(lines))
    return f"@@ -{start},0 +{start},{lines} @@\n{body}"


def file_with(name: str, lines: int = 10, **kw: object) -> PrFile:
    kw.setdefault("patch", patch_for(lines))
    return PrFile(filename=name, status=kw.pop("status", "modified"), additions=lines, deletions=0,  # type: ignore[arg-type]
                  changes=lines, **kw)  # type: ignore[arg-type]


def test_from_github_shape() -> None:
    f = PrFile.from_github({"sha": "abc", "filename": "img/logo.png", "status": "added", "additions": 0,
                            "deletions": 0, "changes": 0, "blob_url": "…"})
    assert f.patch is None and classify(f) == SKIP_BINARY
    renamed = PrFile.from_github({"filename": "b.py", "previous_filename": "a.py", "status": "renamed",
                                  "additions": 0, "deletions": 0, "changes": 0})
    assert classify(renamed) is None and renamed.previous_filename == "a.py"


def test_classification_of_lockfiles_generated_vendored_binary() -> None:
    assert classify(file_with("package-lock.json")) == SKIP_LOCKFILE
    assert classify(file_with("backend/poetry.lock")) == SKIP_LOCKFILE
    assert classify(file_with("go.sum")) == SKIP_LOCKFILE
    assert classify(file_with("static/app.min.js")) == SKIP_GENERATED
    assert classify(file_with("api/service_pb2.py")) == SKIP_GENERATED
    assert classify(file_with("vendor/github.com/x/y.go")) == SKIP_VENDORED
    assert classify(file_with("web/node_modules/left-pad/index.js")) == SKIP_VENDORED
    assert classify(file_with("docs/diagram.pdf")) == SKIP_BINARY
    huge = PrFile("src/huge.py", "modified", 9000, 10, 9010, None)
    assert classify(huge) == SKIP_NO_PATCH
    assert classify(file_with("src/app.py")) is None


def test_gitattributes_linguist_generated_and_vendored() -> None:
    attrs = GitAttributes.parse(
        "# comment\n"
        "*.gen.ts linguist-generated\n"
        "api/client/** linguist-generated=true\n"
        "/third/ linguist-vendored\n"
        "vendor/ours/** -linguist-vendored\n"
        "static/app.min.js -linguist-generated\n"
        "assets/*.dat binary\n"
    )
    assert classify(file_with("src/deep/models.gen.ts"), attrs) == SKIP_GENERATED
    assert classify(file_with("api/client/v1/users.py"), attrs) == SKIP_GENERATED
    assert classify(file_with("third/lib.c"), attrs) == SKIP_VENDORED
    assert classify(file_with("src/third/lib.c"), attrs) is None  # anchored pattern
    assert classify(file_with("vendor/ours/patched.go"), attrs) is None  # explicitly not vendored
    assert classify(file_with("static/app.min.js"), attrs) is None  # explicitly not generated
    assert classify(file_with("assets/blob.dat"), attrs) == SKIP_BINARY


def test_deletion_only_hunks_are_dropped() -> None:
    patch = ("@@ -1,3 +1,1 @@\n-a\n-b\n c\n"
             "@@ -10,2 +8,3 @@\n x\n-y\n+z\n+w")
    kept, dropped = drop_deletion_only_hunks(patch)
    assert dropped == 2
    assert kept.startswith("@@ -10,2 +8,3 @@") and "-a" not in kept


def test_riskiest_files_first_clipping_and_names_listed() -> None:
    files = [file_with("README.md", 200), file_with("src/auth/session.py", 200), file_with("src/util.py", 5)]
    files.append(PrFile("src/old.py", "removed", 0, 50, 50, "@@ -1,50 +0,0 @@\n" + "\n".join(["-x"] * 50)))
    budget = estimate_tokens(files[1].patch or "") + 400
    sel = select_diff([Candidate(f, f.patch or "") for f in files], budget_tokens=budget)
    assert sel.parts[0].filename == "src/auth/session.py" and not sel.parts[0].clipped
    cov = sel.coverage
    assert "src/auth/session.py" in cov.reviewed and "src/util.py" in cov.reviewed
    assert ("src/old.py", SKIP_DELETION_ONLY) in cov.skipped
    assert "README.md" in cov.clipped or ("README.md", SKIP_OVER_BUDGET) in cov.skipped
    assert sum(p.tokens for p in sel.parts) <= budget
    assert cov.partial  # README's 200 lines are not (fully) covered → under 80 %


async def test_huge_pr_is_partial_within_budget_with_reasons() -> None:
    files = [file_with(f"src/module_{i:04d}/handler.py", 40) for i in range(2990)]
    files += [file_with("package-lock.json", 5000), file_with("dist/bundle.min.js", 3000),
              file_with("img/big.png", 0, patch=None), file_with("vendor/lib/x.go", 100),
              file_with(".github/workflows/ci.yml", 20), file_with("src/gen/api.py", 10)]
    files += [file_with(f"tests/test_{i}.py", 5) for i in range(4)]
    assert len(files) == 3000
    settings = AnalysisSettings(budget_tokens=30_000, model="claude-sonnet-4-5")
    result = await analyse_pull_request(PR, files, "src/gen/** linguist-generated\n", settings, None)
    cov = result.coverage
    assert cov.partial and result.partial
    assert cov.share_reviewed < 0.1
    assert cov.input_tokens_estimate <= settings.budget_tokens
    skipped = dict(cov.skipped)
    assert skipped["package-lock.json"] == SKIP_LOCKFILE
    assert skipped["dist/bundle.min.js"] == SKIP_GENERATED
    assert skipped["img/big.png"] == SKIP_BINARY
    assert skipped["vendor/lib/x.go"] == SKIP_VENDORED
    assert skipped["src/gen/api.py"] == SKIP_GENERATED
    assert ".github/workflows/ci.yml" in cov.reviewed  # sensitive paths first
    assert len(cov.reviewed) + len(cov.clipped) + len(cov.skipped) == 3000
    assert result.source == "floor" and "ANTHROPIC_API_KEY" in result.summary


def test_floor_reasons_for_sensitive_paths_and_deleted_tests() -> None:
    files = [
        file_with("app/auth/login.py", 120),
        file_with("db/migrations/0042_drop_users.sql", 30),
        file_with(".github/workflows/deploy.yml", 10),
        file_with("requirements.txt", 2),
        file_with("terraform/main.tf", 15),
        file_with("app/crypto/keys.py", 5),
        PrFile("tests/test_login.py", "removed", 0, 80, 80, None),
    ]
    floor = compute_floor(files)
    codes = {r.code: r for r in floor.reasons}
    assert {"sensitive:auth", "sensitive:migrations", "sensitive:ci", "sensitive:dependencies",
            "sensitive:infrastructure", "sensitive:crypto", "tests:deleted", "size", "spread"} <= set(codes)
    assert sum(r.points for r in floor.reasons if r.code.startswith("sensitive:")) <= 40
    assert "tests/test_login.py" in codes["tests:deleted"].detail
    assert floor.score == min(100, sum(r.points for r in floor.reasons))
    assert 0 <= floor.score <= 100


def test_floor_missing_tests_secrets_unicode_and_clamp() -> None:
    floor = compute_floor([file_with("src/billing.py", 80)])
    assert [r.code for r in floor.reasons] == ["size", "tests:missing"]
    quiet = compute_floor([file_with("docs/guide.md", 3)])
    assert quiet.score == 0 and quiet.reasons == ()
    loud = compute_floor([file_with("src/auth/a.py", 5000)], secrets_found=2, bidi_chars=1, invisible_chars=3,
                         injection_signals=["ignore-instructions in body"])
    assert loud.score == 100
    assert sensitive_categories("src/payments/api.py") == []
