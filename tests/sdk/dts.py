"""A small reader of TypeScript declaration files (the Agent SDK's sdk.d.ts, sdk-tools.d.ts) and a
checker of JSON values against the types declared there.

It understands what those files use for message shapes: ``type X = ...;`` and ``interface X {...}``
declarations, object literals with optional (``?``) fields and index signatures, unions, intersections,
string/number literals, arrays (``X[]``), ``Record<K, V>``, parentheses, and references to other
declarations (``coreTypes.X`` included). Anything else (function types, mapped and conditional types,
types imported from other packages such as ``BetaMessage``) reads as "anything", so the checker never
fails on what it does not understand — it fails on a missing required field, a field no declaration
lists, or a value outside a literal union.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

# -- the type model ------------------------------------------------------------------------------


@dataclass
class Lit:
    """A string, number or boolean literal type."""

    value: Any


@dataclass
class Prim:
    """string, number, boolean, null, undefined, or ``any`` (anything we do not model)."""

    name: str


@dataclass
class Ref:
    """A reference to a declared type (generic arguments kept for Record/Array/Partial)."""

    name: str
    args: List[Any] = field(default_factory=list)


@dataclass
class Arr:
    """``X[]``."""

    item: Any


@dataclass
class Obj:
    """An object literal: fields name -> (optional, type); ``open``: an index signature or mapped type."""

    fields: Dict[str, Tuple[bool, Any]]
    open: bool = False
    value_type: Any = None  # the index signature's value type


@dataclass
class Union_:
    """``A | B``."""

    options: List[Any]


@dataclass
class Inter:
    """``A & B``."""

    parts: List[Any]


ANY = Prim("any")

# -- reading -------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`)|(?P<num>-?\d+(?:\.\d+)?)
                     |(?P<arrow>=>)|(?P<dots>\.\.\.)|(?P<id>[A-Za-z_$][\w$]*)|(?P<p>[{}()\[\]<>|&;:?,=.+*/-]))""",
                    re.VERBOSE)


def strip_comments(text: str) -> str:
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tokenize(text: str) -> List[Tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read at {text[pos:pos + 40]!r}")
        pos = m.end()
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
    return tokens


class _Parser:
    def __init__(self, tokens: List[Tuple[str, str]], start: int = 0) -> None:
        self.t = tokens
        self.i = start

    def peek(self, k: int = 0) -> Tuple[str, str]:
        j = self.i + k
        return self.t[j] if j < len(self.t) else ("eof", "")

    def take(self, value: Optional[str] = None) -> Tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise ValueError(f"expected {value!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        return self.peek()[1] == value and self.peek()[0] in ("p", "arrow", "id", "dots")

    def skip_balanced_until(self, stops: Sequence[str]) -> None:
        depth = 0
        while self.peek()[0] != "eof":
            kind, value = self.peek()
            if kind == "p" and value in "{([<":
                depth += 1
            elif kind == "p" and value in "})]>":
                if depth == 0:
                    return
                depth -= 1
            elif depth == 0 and kind == "p" and value in stops:
                return
            self.i += 1

    def type(self) -> Any:
        if self.at("|"):
            self.take()
        options = [self.inter()]
        while self.at("|"):
            self.take()
            options.append(self.inter())
        if self.at("extends"):  # a conditional type: not modelled
            self.skip_balanced_until((";", ",", ")", "}", "]", ">"))
            return ANY
        return options[0] if len(options) == 1 else Union_(options)

    def inter(self) -> Any:
        if self.at("&"):
            self.take()
        parts = [self.postfix()]
        while self.at("&"):
            self.take()
            parts.append(self.postfix())
        return parts[0] if len(parts) == 1 else Inter(parts)

    def postfix(self) -> Any:
        base = self.primary()
        while self.at("["):
            self.take()
            if self.at("]"):
                self.take()
                base = Arr(base)
            else:  # an indexed access type X['k']
                self.skip_balanced_until(("]",))
                self.take("]")
                base = ANY
        return base

    def primary(self) -> Any:
        kind, value = self.peek()
        if kind == "str":
            self.take()
            return Lit(value[1:-1])
        if kind == "num":
            self.take()
            return Lit(float(value) if "." in value else int(value))
        if value == "{" and kind == "p":
            return self.obj()
        if value == "(" and kind == "p":
            start = self.i
            self.take()
            self.skip_balanced_until((")",))
            self.take(")")
            if self.at("=>"):  # a function type
                self.take()
                self.type()
                return ANY
            self.i = start + 1
            inner = self.type()
            self.take(")")
            return inner
        if value == "[" and kind == "p":  # a tuple
            self.take()
            self.skip_balanced_until(("]",))
            self.take("]")
            return Arr(ANY)
        if value in ("keyof", "typeof", "readonly", "unique", "infer", "new", "asserts"):
            self.take()
            self.postfix()
            return ANY
        if kind == "id":
            self.take()
            name = value
            while self.at(".") and self.peek(1)[0] == "id":
                self.take()
                name = self.take()[1]  # coreTypes.X -> X
            args = []
            if self.at("<"):
                self.take()
                args.append(self.type())
                while self.at(","):
                    self.take()
                    args.append(self.type())
                self.take(">")
            if name in ("true", "false"):
                return Lit(name == "true")
            if name in ("string", "number", "boolean", "null", "undefined", "unknown", "any", "never",
                        "object", "bigint", "symbol", "void"):
                return Prim({"unknown": "any", "object": "any", "void": "undefined"}.get(name, name))
            return Ref(name, args)
        raise ValueError(f"unexpected {value!r}")

    def obj(self) -> Obj:
        self.take("{")
        out = Obj({})
        while not self.at("}"):
            if self.at(";") or self.at(","):
                self.take()
                continue
            if self.at("readonly"):
                self.take()
            kind, value = self.peek()
            if value == "[" and kind == "p":  # index signature or mapped type
                if self.peek(2)[1] == "in":
                    out.open = True
                    self.skip_balanced_until((";", ","))
                    continue
                self.take()
                self.skip_balanced_until(("]",))
                self.take("]")
                if self.at("?"):
                    self.take()
                self.take(":")
                out.open = True
                out.value_type = self.type()
                continue
            if kind in ("id", "str", "num"):
                name = value[1:-1] if kind == "str" else value
                self.take()
                optional = False
                if self.at("?"):
                    self.take()
                    optional = True
                if self.at("(") or self.at("<"):  # a method
                    self.skip_balanced_until((";", ","))
                    out.fields[name] = (True, ANY)
                    continue
                self.take(":")
                out.fields[name] = (optional, self.type())
                continue
            self.skip_balanced_until((";", ","))
        self.take("}")
        return out


_DECL = re.compile(r"(?:export\s+)?(?:declare\s+)?(type|interface)\s+([A-Za-z_$][\w$]*)\s*(<[^=>{]*>)?\s*"
                   r"(?:extends\s+([^{]+?)\s*)?(=|\{)")


def read_declarations(*paths: Path) -> Dict[str, Any]:
    """Every ``type``/``interface`` declared in ``paths``: name -> the type (ANY when unreadable)."""
    decls: Dict[str, Any] = {}
    for path in paths:
        text = strip_comments(Path(path).read_text(encoding="utf-8"))
        for m in _DECL.finditer(text):
            kind, name, extends = m.group(1), m.group(2), m.group(4)
            start = m.end() - (1 if m.group(5) == "{" else 0)
            end = _decl_end(text, start, kind)
            body = text[start:end]
            try:
                parser = _Parser(tokenize(body))
                value = parser.type()
            except (ValueError, IndexError):
                value = ANY
            if kind == "interface" and extends:
                value = Inter([Ref(e.strip().split("<")[0]) for e in extends.split(",")] + [value])
            decls.setdefault(name, value)
    return decls


def _decl_end(text: str, start: int, kind: str) -> int:
    depth, i, n = 0, start, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
            if kind == "interface" and depth == 0:
                return i + 1
        elif c == ";" and depth == 0:
            return i
        i += 1
    return n


# -- checking ------------------------------------------------------------------------------------

STRING_ALIASES = {"UUID"}


class Checker:
    """Checks values against the declarations. ``extensions``: per declaration name, fields a value
    may carry beyond the declaration (claw's own, each a documented extension)."""

    def __init__(self, decls: Dict[str, Any], extensions: Optional[Dict[str, Sequence[str]]] = None) -> None:
        self.decls = decls
        self.extensions = {k: set(v) for k, v in (extensions or {}).items()}

    def check(self, value: Any, type_name: str) -> List[str]:
        if type_name not in self.decls:
            return [f"{type_name} is not declared in the typings"]
        return self._check(value, Ref(type_name), type_name, type_name)

    def _resolve(self, t: Any, seen: Tuple[str, ...] = ()) -> Any:
        while isinstance(t, Ref):
            if t.name in STRING_ALIASES:
                return Prim("string")
            if t.name == "Record" and len(t.args) == 2:
                return Obj({}, open=True, value_type=t.args[1])
            if t.name in ("Array", "ReadonlyArray") and t.args:
                return Arr(t.args[0])
            if t.name in ("NonNullable", "Readonly") and t.args:
                t = t.args[0]
                continue
            if t.name not in self.decls or t.name in seen:
                return ANY
            seen = seen + (t.name,)
            t = self.decls[t.name]
        return t

    def _fields(self, t: Any) -> Optional[Obj]:
        """The object an intersection (or a reference to one) stands for, or None."""
        t = self._resolve(t)
        if isinstance(t, Obj):
            return t
        if isinstance(t, Inter):
            merged = Obj({})
            for part in t.parts:
                sub = self._fields(part)
                if sub is None:
                    merged.open = True
                    continue
                merged.fields.update(sub.fields)
                merged.open = merged.open or sub.open
                merged.value_type = merged.value_type or sub.value_type
            return merged
        return None

    def _check(self, value: Any, t: Any, where: str, name: str) -> List[str]:
        if isinstance(t, Ref) and t.name in self.decls:
            name = t.name
        t = self._resolve(t)
        if isinstance(t, Prim):
            ok = {
                "any": True, "never": False,
                "string": isinstance(value, str),
                "number": isinstance(value, (int, float)) and not isinstance(value, bool),
                "boolean": isinstance(value, bool),
                "null": value is None, "undefined": value is None,
            }.get(t.name, True)
            return [] if ok else [f"{where}: {value!r} is not {t.name}"]
        if isinstance(t, Lit):
            return [] if value == t.value else [f"{where}: {value!r} is not {t.value!r}"]
        if isinstance(t, Arr):
            if not isinstance(value, list):
                return [f"{where}: expected an array, got {type(value).__name__}"]
            return [p for i, item in enumerate(value) for p in self._check(item, t.item, f"{where}[{i}]", name)]
        if isinstance(t, Union_):
            resolved = [self._resolve(o) for o in t.options]
            if all(isinstance(o, Lit) for o in resolved):
                values = [o.value for o in resolved]
                return [] if value in values else [f"{where}: {value!r} is not one of {values}"]
            best: Optional[List[str]] = None
            for option in self._narrow(value, t.options):
                problems = self._check(value, option, where, name)
                if not problems:
                    return []
                if best is None or len(problems) < len(best):
                    best = problems
            return best or [f"{where}: {value!r} matches none of the union"]
        obj = self._fields(t)
        if obj is None:
            return []
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        problems = []
        allowed = self.extensions.get(name, set())
        for key, (optional, ftype) in obj.fields.items():
            if key not in value:
                if not optional:
                    problems.append(f"{where}: required field {key!r} is missing")
                continue
            if optional and value[key] is None and not self._admits_null(ftype):
                problems.append(f"{where}.{key}: null where the field is optional (omit it instead)")
                continue
            problems += self._check(value[key], ftype, f"{where}.{key}", name)
        for key in value:
            if key in obj.fields:
                continue
            if obj.open:
                if obj.value_type is not None:
                    problems += self._check(value[key], obj.value_type, f"{where}[{key!r}]", name)
                continue
            if key not in allowed:
                problems.append(f"{where}: unknown field {key!r} (not in {name}, nor a listed claw extension)")
        return problems

    def _admits_null(self, t: Any) -> bool:
        t = self._resolve(t)
        if isinstance(t, Prim):
            return t.name in ("null", "any", "undefined")
        if isinstance(t, Union_):
            return any(self._admits_null(o) for o in t.options)
        return False

    def _narrow(self, value: Any, options: List[Any]) -> List[Any]:
        """Union members whose literal ``type``/``subtype`` fields fit ``value`` (all when none do)."""
        if not isinstance(value, dict):
            return options
        fitting = []
        for option in options:
            obj = self._fields(option)
            if obj is None:
                fitting.append(option)
                continue
            ok = True
            for key in ("type", "subtype", "hook_event_name"):
                spec = obj.fields.get(key)
                if spec is None:
                    continue
                lit = self._resolve(spec[1])
                values = [lit.value] if isinstance(lit, Lit) else [
                    o.value for o in (lit.options if isinstance(lit, Union_) else []) if isinstance(o, Lit)]
                if values and value.get(key) not in values:
                    ok = False
            if ok:
                fitting.append(option)
        return fitting or options

    def literals(self, type_name: str) -> List[Any]:
        """The literal values of a union of literals (``PermissionMode``, ``ApiKeySource``)."""
        return self.literals_of(Ref(type_name))

    def literals_of(self, t: Any) -> List[Any]:
        t = self._resolve(t)
        options = t.options if isinstance(t, Union_) else [t]
        return [o.value for o in (self._resolve(x) for x in options) if isinstance(o, Lit)]

    def field_names(self, type_name: str) -> Dict[str, bool]:
        """name -> optional, for an object type (intersections merged)."""
        obj = self._fields(Ref(type_name))
        return {k: opt for k, (opt, _t) in (obj.fields.items() if obj else ())}


def union_members(decls: Dict[str, Any], type_name: str) -> List[str]:
    """The names of the declarations a union alias lists (``SDKMessage`` -> ``SDKAssistantMessage``...)."""
    t = decls.get(type_name)
    options = t.options if isinstance(t, Union_) else [t]
    names: List[str] = []
    for option in options:
        if isinstance(option, Ref):
            nested = decls.get(option.name)
            names += union_members(decls, option.name) if isinstance(nested, Union_) else [option.name]
    return names


def sdk_typings_dir(root: Path) -> Path:
    return root / "tests" / "sdk_ts" / "node_modules" / "@anthropic-ai" / "claude-agent-sdk"
