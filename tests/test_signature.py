from devmetrics_app.web.signature import sign, verify

# GitHub's published test vector (docs: "Validating webhook deliveries").
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE
    assert verify(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE)


def test_rejects_tampering_wrong_secret_and_sha1() -> None:
    assert not verify(VECTOR_SECRET, b"Hello, World?", VECTOR_SIGNATURE)
    assert not verify("another secret", VECTOR_BODY, VECTOR_SIGNATURE)
    assert not verify(VECTOR_SECRET, VECTOR_BODY, None)
    assert not verify(VECTOR_SECRET, VECTOR_BODY, "")
    assert not verify(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE.removeprefix("sha256="))
    # SHA-1 signatures (X-Hub-Signature) are never accepted, even when correct.
    assert not verify(VECTOR_SECRET, VECTOR_BODY, "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59")
    assert not verify("", VECTOR_BODY, sign("", VECTOR_BODY))
