"""YAML text → plain data plus the line and column of every field path; knows nothing of the schema.

The document is composed into nodes (with libyaml when available) and built by hand, so that
duplicate keys, unknown tags, self-referring aliases and alias bombs are reported with their
positions instead of being silently dropped or crashing, as PyYAML's own constructors do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import yaml

from reconcile.errors import ManifestProblem

FieldPath = tuple[Any, ...]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STANDARD_TAG = "tag:yaml.org,2002:"
MAX_NODES = 100_000
MAX_DEPTH = 64
_SCALAR_ERRORS = (yaml.YAMLError, ValueError, OverflowError, TypeError)


class Position(NamedTuple):
    """A 1-based line and column in the manifest's text (ordered as a tuple)."""

    line: int
    column: int


def _position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def format_path(path: FieldPath, sequences: frozenset[FieldPath] | set[FieldPath]) -> str:
    """`devboxes.builder.mounts[0].object`: list items in brackets, mapping keys after dots."""
    text = ""
    for index, part in enumerate(path):
        if isinstance(part, int) and not isinstance(part, bool) and path[:index] in sequences:
            text += f"[{part}]"
        else:
            text += ("." if text else "") + key_text(part)
    return text


def one_line(text: str) -> str:
    """text with line breaks and other unprintable characters escaped (`\\n`), for messages."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def key_text(key: Any) -> str:
    """How a mapping key reads in a message (YAML spelling for null and booleans)."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


_FAR_END = Position(1_000_000_000, 1)


class SourceMap:
    """Where each field path was written; a lookup falls back to the nearest written parent."""

    def __init__(self) -> None:
        self.values: dict[FieldPath, Position] = {}
        self.keys: dict[FieldPath, Position] = {}
        self.sequences: set[FieldPath] = set()
        self.texts: dict[FieldPath, str] = {}  # scalars as written (`yes`, not True)

    def value(self, path: FieldPath) -> Position:
        """Where the value at path starts (or its nearest written parent)."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def key(self, path: FieldPath) -> Position:
        """Where the key of path is written (its value when it has no key, e.g. a list item)."""
        return self.keys.get(path) or self.value(path)

    def display(self, path: FieldPath) -> str:
        return format_path(path, self.sequences)


class Reporter:
    """Collects problems, each located by a field path through the source map."""

    def __init__(
        self,
        file: str,
        sources: SourceMap,
        problems: list[ManifestProblem] | None = None,
        end: Position = _FAR_END,
    ) -> None:
        self.file = file
        self.sources = sources
        self.problems: list[ManifestProblem] = problems if problems is not None else []
        self.end = end  # libyaml may point one line past the text; never report beyond it

    def at(self, where: Position, path: FieldPath, message: str) -> None:
        display = one_line(self.sources.display(path))
        line, column = min(where, self.end)
        self.problems.append(ManifestProblem(self.file, line, column, display, one_line(message)))

    def value(self, path: FieldPath, message: str) -> None:
        """A problem with the value written at path."""
        self.at(self.sources.value(path), path, message)

    def key(self, path: FieldPath, message: str) -> None:
        """A problem with the key of path (unknown, duplicate or badly named)."""
        self.at(self.sources.key(path), path, message)


class ParsedYaml(NamedTuple):
    """The document as plain data, where each part was written, and what was wrong with it."""

    data: Any
    sources: SourceMap
    problems: list[ManifestProblem]
    readable: bool


class _TooLarge(Exception):
    """The document expands to more nodes than a manifest ever needs (an alias bomb)."""


def parse_yaml(text: str, file: str) -> ParsedYaml:
    """Compose and build one YAML document; syntax errors make it unreadable (readable=False)."""
    report = Reporter(file, SourceMap(), end=offset_position(text, len(text)))
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return ParsedYaml(None, report.sources, report.problems, readable=True)
        builder = _Builder(loader, report)
        data = builder.build(node, (), 0, None)
    except yaml.MarkedYAMLError as error:
        report.at(_error_position(error), (), _syntax_message(error, text))
        return ParsedYaml(None, report.sources, report.problems, readable=False)
    except yaml.reader.ReaderError as error:
        report.at(offset_position(text, error.position), (), f"invalid YAML: {error.reason}")
        return ParsedYaml(None, report.sources, report.problems, readable=False)
    except (yaml.YAMLError, RecursionError) as error:
        report.at(Position(1, 1), (), f"invalid YAML: {_first_line(str(error))}")
        return ParsedYaml(None, report.sources, report.problems, readable=False)
    except _TooLarge:
        message = f"the document expands to more than {MAX_NODES} values (aliases?)"
        report.at(Position(1, 1), (), message)
        return ParsedYaml(None, report.sources, report.problems, readable=False)
    finally:
        loader.dispose()
    return ParsedYaml(data, report.sources, report.problems, readable=True)


def offset_position(text: str, offset: int) -> Position:
    """The line and column of a character offset in text."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    return Position(line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def _error_position(error: yaml.MarkedYAMLError) -> Position:
    mark = error.problem_mark or error.context_mark
    return _position(mark) if mark is not None else Position(1, 1)


def _syntax_message(error: yaml.MarkedYAMLError, text: str) -> str:
    problem = _first_line(error.problem or "syntax error")
    context = _first_line(error.context or "")
    mark = error.problem_mark
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        return "invalid YAML: a tab cannot indent YAML (use spaces)"
    if context.startswith("expected a single document"):
        return "invalid YAML: a manifest is one document, but a second one starts here"
    if context and error.context_mark is not None and error.context_mark != error.problem_mark:
        context = f"{context} at line {error.context_mark.line + 1}"
    return f"invalid YAML: {problem}" + (f" ({context})" if context else "")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text.strip()


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, recording positions as it goes."""

    def __init__(self, loader: Any, report: Reporter) -> None:
        self.loader = loader
        self.report = report
        self.sources = report.sources
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: FieldPath, depth: int, key_at: Position | None) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge
        where = _position(node.start_mark)
        # An alias's node carries its anchor's mark; point at the key that used it instead.
        self.sources.values[path] = key_at if key_at is not None and where < key_at else where
        if isinstance(node, yaml.ScalarNode):
            self.sources.texts[path] = node.value
            return self.scalar(node, path)
        if id(node) in self.active:
            self.report.value(path, "an alias refers to a value that contains it")
            return None
        if depth >= MAX_DEPTH:
            self.report.value(path, f"nested more than {MAX_DEPTH} levels deep")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return self.sequence(node, path, depth)
            return self.mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: yaml.Node, path: FieldPath) -> Any:
        if node.tag not in self.loader.yaml_constructors:
            self.report.at(_position(node.start_mark), path, _unsupported_tag(node.tag))
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except _SCALAR_ERRORS as error:
            problem = getattr(error, "problem", None) or str(error)
            self.report.at(_position(node.start_mark), path, f"bad value: {_first_line(problem)}")
            return None

    def sequence(self, node: yaml.Node, path: FieldPath, depth: int) -> list[Any]:
        self._check_tag(node, _SEQ_TAG, path)
        self.sources.sequences.add(path)
        return [self.build(item, (*path, i), depth + 1, None) for i, item in enumerate(node.value)]

    def mapping(self, node: yaml.Node, path: FieldPath, depth: int) -> dict[Any, Any]:
        self._check_tag(node, _MAP_TAG, path)
        result: dict[Any, Any] = {}
        own_position = self.sources.values[path]
        for source in self._merge_sources(node, path):
            merged = self.build(source, path, depth, None)
            if isinstance(merged, dict):
                result.update({k: v for k, v in merged.items() if k not in result})
        self.sources.values[path] = own_position
        first_seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node, path)
            if key is _NO_KEY:
                continue
            child, key_at = (*path, key), _position(key_node.start_mark)
            if key in first_seen:
                message = f"duplicate key '{key_text(key)}' (first at line {first_seen[key].line})"
                self.report.at(key_at, child, message)
                continue
            first_seen[key] = key_at
            self.sources.keys[child] = key_at
            result[key] = self.build(value_node, child, depth + 1, key_at)
        return result

    def _key(self, node: yaml.Node, path: FieldPath) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            where = _position(node.start_mark)
            self.report.at(where, path, "a key must be a plain value, not a list or mapping")
            return _NO_KEY
        key = self.scalar(node, path)
        try:
            hash(key)
        except TypeError:
            return _NO_KEY
        return key

    def _merge_sources(self, node: yaml.Node, path: FieldPath) -> Iterator[yaml.Node]:
        """The mappings named by `<<:` keys, in the order YAML gives them precedence."""
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            items = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for item in items:
                if isinstance(item, yaml.MappingNode):
                    yield item
                else:
                    where = _position(item.start_mark)
                    self.report.at(where, path, "'<<' can only merge mappings")

    def _check_tag(self, node: yaml.Node, expected: str, path: FieldPath) -> None:
        if node.tag != expected:
            self.report.at(_position(node.start_mark), path, _unsupported_tag(node.tag))


_NO_KEY = object()


def _unsupported_tag(tag: str) -> str:
    short = "!!" + tag.removeprefix(_STANDARD_TAG) if tag.startswith(_STANDARD_TAG) else tag
    return f"unsupported YAML tag {short} (a manifest is plain YAML)"
