"""The subscriber loader against bad files, and the unsubscribe tokens against tampering."""

from __future__ import annotations

import dataclasses
import logging
import random
import string
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email

from digest.audience.subscribers import (
    LoadStats,
    load_subscribers,
    make_token,
    normalize_address,
    read_token,
)
from digest.errors import SubscriberError
from digest.model import Subscriber

TOPICS = ("World", "Politics", "Featured")
KEY = b"a-test-secret-of-enough-length"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _skips(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "row skipped" in r.getMessage()]


def test_each_kind_of_bad_row_costs_one_line_naming_file_line_and_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path / "main.csv", (
        b"email,name,topics,frequency\n"
        b"ok1@example.com,One,,daily\n"            # 2 ok
        b"not-an-address,Bad,,daily\n"             # 3 bad address
        b"ok2@example.com,Two,Sports,daily\n"      # 4 unknown topic
        b"ok3@example.com,Three,,hourly\n"         # 5 bad frequency
        b"ok4@example.com,Four\n"                  # 6 too few columns
        b"ok5@example.com,Five,,daily,extra\n"     # 7 too many columns
        b"\n"                                      # 8 blank: ignored silently
        b"ok6@example.com,\"Six, Esq.\",world;POLITICS,weekly\n"  # 9 ok, topics normalized
    ) + "ok7@example.com,Jos\xe9,,daily\n".encode("latin-1")  # 10 Latin-1
        + b"ok8@example.com,Eight,,daily\n")  # 11 ok after the bad byte
    stats = LoadStats()
    with caplog.at_level(logging.WARNING):
        got = list(load_subscribers([path], topics=TOPICS, stats=stats))

    assert [s.email for s in got] == ["ok1@example.com", "ok6@example.com", "ok8@example.com"]
    assert got[1].topics == ("Politics", "World") and got[1].frequency == "weekly"
    assert got[1].name == "Six, Esq." and got[1].list_name == "main"
    skipped = _skips(caplog)
    assert len(skipped) == 6 and stats.skipped == 6
    expected = {3: "not a valid address", 4: "unknown topic 'Sports'", 5: "'hourly'",
                6: "2 columns where the header has 4", 7: "5 columns where the header has 4",
                10: "not UTF-8"}
    for line, reason in expected.items():
        assert any(m.startswith(f"{path}:{line}: row skipped") and reason in m for m in skipped), (
            line, skipped)


def test_bom_and_crlf_and_header_case_are_read(tmp_path: Path) -> None:
    path = _write(tmp_path / "excel.csv",
                  b"\xef\xbb\xbfEmail,Name\r\nada@Example.COM,Ada\r\n\"x@example.org\",\"X\"\r\n")
    got = list(load_subscribers([path]))
    assert [(s.email, s.name) for s in got] == [("ada@example.com", "Ada"), ("x@example.org", "X")]


def test_a_latin1_file_keeps_its_ascii_rows_and_says_to_save_as_utf8(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "email,name\nana@example.com,Ana Mu\xf1oz\nbo@example.com,Bo\nc@example.com,Zo\xeb\n"
    path = _write(tmp_path / "latin.csv", text.encode("latin-1"))
    with caplog.at_level(logging.WARNING):
        got = list(load_subscribers([path]))
    assert [s.email for s in got] == ["bo@example.com"]
    messages = [r.getMessage() for r in caplog.records]
    assert f"{path}:2: row skipped: not UTF-8 (byte 0xf1" in messages[0]
    assert any("2 rows were skipped because they are not UTF-8" in m for m in messages)


@pytest.mark.parametrize("data, says", [
    ("email,name\nada@example.com,Ada\n".encode("utf-16"), "not a UTF-8 text file"),
    (b"\x00\x01\x02binary\x00", "not a UTF-8 text file"),
    ("\xe9mail,name\nada@example.com,Ada\n".encode("latin-1"), ":1: the header row is not UTF-8"),
    (b"name,topics\nAda,World\n", ":1: no 'email' column"),
    (b"", ":1: no 'email' column"),
])
def test_an_unreadable_file_is_one_clear_error(tmp_path: Path, data: bytes, says: str) -> None:
    path = _write(tmp_path / "bad.csv", data)
    with pytest.raises(SubscriberError) as e:
        list(load_subscribers([path]))
    assert str(path) in str(e.value) and says in str(e.value)


def test_a_missing_list_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SubscriberError, match="cannot open the subscriber list"):
        list(load_subscribers([tmp_path / "nope.csv"]))


def test_dedup_across_lists_compares_addresses_without_case(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.csv", b"email,name\nAda@EXAMPLE.com,First\nbob@example.com,Bob\n")
    b = _write(tmp_path / "b.csv", b"email\nAda@example.COM\nada@example.com\nbob@example.com\n")
    stats = LoadStats()
    got = list(load_subscribers([a, b], stats=stats))
    # One reader whatever the case; mail goes to the address as first written (domain
    # lower-cased).
    assert [(s.email, s.list_name) for s in got] == [
        ("Ada@example.com", "a"), ("bob@example.com", "a")]
    assert stats.duplicates == 3


def test_suppressed_addresses_are_not_yielded(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.csv", b"email\nada@Example.com\nbob@example.com\n")
    got = list(load_subscribers([a], suppressed={"ada@example.com"}))
    assert [s.email for s in got] == ["bob@example.com"]


def test_a_broken_quote_costs_its_rows_not_the_file(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.csv",
               b'email,name\nok@example.com,A\nx@example.com,"unterminated\nz@example.com,Z\n')
    got = list(load_subscribers([a]))
    assert [s.email for s in got][0] == "ok@example.com"


def test_100k_generated_rows_stream_with_every_bad_one_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(8)
    path = tmp_path / "big.csv"
    bad_lines = set()
    with path.open("w", encoding="utf-8") as f:
        f.write("email,name,topics,frequency\n")
        for i in range(100_000):
            line = i + 2
            if i % 997 == 0:
                f.write(f"user{i}-at-example.com,U,,daily\n")
                bad_lines.add(line)
            else:
                topic = rng.choice(["", "World", "Politics;World"])
                freq = rng.choice(["daily", "weekly", ""])
                f.write(f"user{i}@Example{i % 50}.COM,User {i},{topic},{freq}\n")
    stats = LoadStats()
    with caplog.at_level(logging.WARNING):
        count = sum(1 for _ in load_subscribers([path], topics=TOPICS, stats=stats))
    assert count == 100_000 - len(bad_lines)
    reported = {int(m.split(":")[1]) for m in _skips(caplog)}
    assert reported == bad_lines


def _random_address(rng: random.Random) -> str:
    atoms = string.ascii_letters + string.digits + "_+-"
    local = ".".join("".join(rng.choice(atoms) for _ in range(rng.randint(1, 12)))
                     for _ in range(rng.randint(1, 3)))
    labels = ["".join(rng.choice(string.ascii_letters + string.digits + "-")
                      for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(1, 3))]
    tld = rng.choice(["com", "ORG", "io", "test", "local", "x", "c0m", "museum", "onion"])
    return f"{local}@{'.'.join(labels)}.{tld}"


def test_the_fast_address_path_agrees_with_email_validator() -> None:
    rng = random.Random(1)
    samples = [_random_address(rng) for _ in range(3000)] + [
        "a..b@example.com", ".a@example.com", "a@-example.com", "a@example-.com",
        "a@xn--bcher-kva.example", "a" * 65 + "@example.com", "a@" + "b" * 64 + ".com",
        "ünï@example.com", "a@example.com.", "\"q\"@example.com", "a@[127.0.0.1]",
    ]
    for address in samples:
        try:
            expected: str | None = str(validate_email(address, check_deliverability=False)
                                       .normalized)
        except EmailNotValidError:
            expected = None
        try:
            got: str | None = normalize_address(address)
        except SubscriberError:
            got = None
        assert got == expected, address


def test_a_token_reads_back_its_list_and_address() -> None:
    token = make_token(KEY, "main", "ada@example.com")
    assert token.startswith("v1.")
    assert read_token(KEY, token) == ("main", "ada@example.com")


def test_truncated_forged_and_retargeted_tokens_are_refused() -> None:
    token = make_token(KEY, "main", "ada@example.com")
    other = make_token(KEY, "main", "bob@example.com")
    bad = [token[:n] for n in range(len(token))]  # every truncation
    bad += [token + "A", token + "=", token + "==", " " + token.replace(".", "..", 1)]
    v, payload, sig = token.split(".")
    _, other_payload, other_sig = other.split(".")
    bad += [f"{v}.{other_payload}.{sig}", f"{v}.{payload}.{other_sig}"]  # re-targeted
    bad += [f"v2.{payload}.{sig}", f"v1.{payload}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}"]
    bad += [make_token(b"another-key-of-enough-length", "main", "ada@example.com")]
    other_list = make_token(KEY, "other", "ada@example.com").split(".")
    bad += [f"v1.{other_list[1]}.{sig}"]  # moved to another list
    for i in range(len(token)):  # every single-character change
        for c in "A_-0":
            if token[i] != c:
                bad.append(token[:i] + c + token[i + 1:])
    for t in bad:
        if t.strip() == token:
            continue
        with pytest.raises(SubscriberError):
            read_token(KEY, t)


def test_loaded_subscribers_equal_ones_made_the_ordinary_way(tmp_path: Path) -> None:
    path = _write(tmp_path / "l.csv", b"email,name,topics,frequency\na@example.com,A  B,world,"
                                      b"WEEKLY\n")
    (got,) = load_subscribers([path], topics=TOPICS)
    made = Subscriber("a@example.com", "A B", ("World",), "weekly", "l")
    assert got == made and hash(got) == hash(made) and repr(got) == repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.email = "b@example.com"  # type: ignore[misc]
