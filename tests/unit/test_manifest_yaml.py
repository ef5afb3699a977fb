"""Reading YAML with positions: keys and values located, duplicates caught, hostile YAML held."""

from __future__ import annotations

import pytest

from reconcile.manifest.yamlsource import MAX_DEPTH, MAX_NODES, Position, parse_yaml

TEXT = """\
version: 1
devboxes:
  builder:
    setup:
      - echo one
      - echo two
    env: {A: "1"}
"""


def test_keys_and_values_are_located() -> None:
    parsed = parse_yaml(TEXT, "m.yaml")
    sources = parsed.sources
    assert parsed.problems == [] and parsed.readable
    assert sources.key(("devboxes", "builder")) == Position(3, 3)
    assert sources.value(("devboxes", "builder", "setup", 1)) == Position(6, 9)
    assert sources.value(("devboxes", "builder", "env", "A")) == Position(7, 14)
    assert sources.key(("devboxes", "builder", "env", "A")) == Position(7, 11)


def test_an_unwritten_path_falls_back_to_its_nearest_parent() -> None:
    sources = parse_yaml(TEXT, "m.yaml").sources
    assert sources.value(("devboxes", "builder", "mounts", 0, "object")) == Position(4, 5)
    assert sources.key(("devboxes", "builder", "lifecycle")) == Position(4, 5)
    assert sources.value(("nowhere",)) == Position(1, 1)


def test_paths_read_with_dots_and_brackets() -> None:
    sources = parse_yaml(TEXT, "m.yaml").sources
    assert sources.display(("devboxes", "builder", "setup", 1)) == "devboxes.builder.setup[1]"
    assert sources.display(("devboxes", 0)) == "devboxes.0"
    assert sources.display(("devboxes", None, True)) == "devboxes.null.true"


def test_scalars_keep_their_written_spelling() -> None:
    parsed = parse_yaml("a: yes\nb: 0x1F\nc: 2024-01-02\n", "m.yaml")
    assert parsed.data["a"] is True and parsed.data["b"] == 31
    assert parsed.sources.texts[("a",)] == "yes"
    assert parsed.sources.texts[("b",)] == "0x1F"


def test_an_alias_value_points_at_where_it_is_used() -> None:
    parsed = parse_yaml("base: &b {x: 1}\nother: *b\n", "m.yaml")
    assert parsed.data == {"base": {"x": 1}, "other": {"x": 1}}
    assert parsed.sources.value(("other",)) == Position(2, 1)


def test_merge_keys_merge_and_explicit_keys_win_without_duplicate_errors() -> None:
    text = "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n"
    parsed = parse_yaml(text, "m.yaml")
    assert parsed.problems == []
    assert parsed.data["c"] == {"x": 1, "y": 3}
    assert parsed.sources.value(("c", "y")) == Position(4, 6)
    assert parsed.sources.value(("c",)) == Position(3, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "2:1: a: duplicate key 'a' (first at line 1)"),
        ("m: {x: 1, x: 2}\n", "1:11: m.x: duplicate key 'x' (first at line 1)"),
        ("1: a\n1: b\n", "2:1: 1: duplicate key '1' (first at line 1)"),
        ("x: &a [*a]\n", "1:4: x[0]: an alias refers to a value that contains it"),
        ("x: !!binary 'not base64!'\n", "1:4: x: bad value: failed to decode base64 data: "),
        ("x: !!set {a, b}\n", "1:4: x: unsupported YAML tag !!set (a manifest is plain YAML)"),
        ("c:\n  <<: [1]\n", "2:8: c: '<<' can only merge mappings"),
    ],
    ids=["top", "flow", "number-keys", "self-alias", "binary", "set", "merge-scalar"],
)
def test_yaml_level_problems(text: str, message: str) -> None:
    parsed = parse_yaml(text, "m.yaml")
    assert parsed.readable
    first = str(parsed.problems[0]).removeprefix("m.yaml:")
    assert first.startswith(message)


def test_an_alias_bomb_is_one_clean_problem() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    parsed = parse_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert not parsed.readable
    assert [p.message for p in parsed.problems] == [
        f"the document expands to more than {MAX_NODES} values (aliases?)"
    ]


def test_deep_nesting_is_cut_off_with_a_problem() -> None:
    depth = MAX_DEPTH + 5
    parsed = parse_yaml("x: " + "[" * depth + "]" * depth + "\n", "deep.yaml")
    assert [p.message for p in parsed.problems] == [f"nested more than {MAX_DEPTH} levels deep"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: b: c\n", Position(1, 5)),
        ("a: [1, 2\n", Position(2, 1)),
        ("a: \x00\n", Position(1, 4)),
        ("a:\n  - x\n  y: 1\n", Position(3, 3)),
    ],
    ids=["nested-colon", "unclosed-list", "nul", "mixed-block"],
)
def test_syntax_errors_are_located_and_unreadable(text: str, where: Position) -> None:
    parsed = parse_yaml(text, "m.yaml")
    assert not parsed.readable
    (problem,) = parsed.problems
    assert (problem.line, problem.column) == where
    assert problem.message.startswith("invalid YAML: ")


def test_an_empty_document_is_readable_and_empty() -> None:
    parsed = parse_yaml("# nothing\n", "m.yaml")
    assert parsed.readable and parsed.data is None and parsed.problems == []
