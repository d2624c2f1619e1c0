"""Strategy parameters from ONE source of truth: the manifest's ``parameters_schema``.

``parse_params(__file__, argv)`` reads ``<script>.strategy.json`` next to the script and

* ``--describe``: prints the schema as JSON on stdout and exits 0;
* ``--params-json '<object>'`` (the runner's form): validates the object against the schema,
  applying defaults;
* otherwise builds friendly flags from the schema (``rsi_max`` -> ``--rsi-max``, arrays as
  comma lists, booleans as ``--flag/--no-flag``) and validates the result the same way.

Invalid parameters exit with code 2 and one line on stderr naming the parameter, e.g.
``error: parameter 'rsi_max': must be <= 100 (got 140)``.

The validator covers the JSON Schema subset the manifests use (type, enum, const, minimum,
maximum, exclusiveMinimum, exclusiveMaximum, pattern, minLength, maxLength, items, minItems,
maxItems, uniqueItems, properties, required, additionalProperties). A schema using any other
validation keyword is rejected at start-up, so the script never silently accepts what the
runner's validator would refuse.

Rules between parameters live beside the schema, in its top-level ``x-constraints`` list, e.g.
``[{"lte": ["rsi_min", "rsi_max"]}]`` (one of lt, lte, gt, gte, and an optional ``message``).
The runner checks the same list before queueing a run, with the same message:
``error: parameter 'rsi_min': must be <= rsi_max (20) (got 80)``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional, Sequence

__all__ = ["ParamError", "load_manifest", "validate", "check_constraints", "parse_params"]

_ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "default", "examples",
                "deprecated", "readOnly", "writeOnly"}
_KEYWORDS = {"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
             "exclusiveMaximum", "pattern", "minLength", "maxLength", "items", "minItems",
             "maxItems", "uniqueItems", "properties", "required", "additionalProperties"}
_CONSTRAINTS = "x-constraints"
_OPERATORS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
# Flags of the script itself; a parameter may not take their names.
_RESERVED = {"describe", "json", "params_json", "help"}


class ParamError(Exception):
    """A parameter failed validation; ``param`` is its name (``tickers[2]`` for items)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"parameter '{param}': {message}" if param else message)
        self.param = param
        self.message = message


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(2)


def load_manifest(script_file: str) -> dict[str, Any]:
    """The manifest next to the script: ``foo.py`` -> ``foo.strategy.json``."""
    path = Path(script_file).resolve().with_suffix(".strategy.json")
    with path.open(encoding="utf-8") as fh:
        manifest = json.load(fh)
    schema = manifest.get("parameters_schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise ValueError(f"{path}: parameters_schema must be an object schema")
    _check_schema({k: v for k, v in schema.items() if k != _CONSTRAINTS}, "parameters_schema")
    _read_constraints(schema, str(path))
    for name in schema.get("properties", {}):
        if name in _RESERVED:
            raise ValueError(f"{path}: parameter name {name!r} is reserved")
    return manifest


def _check_schema(schema: dict[str, Any], where: str) -> None:
    unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
    if unknown:
        raise ValueError(f"{where}: unsupported schema keyword(s) {sorted(unknown)}")
    for name, sub in schema.get("properties", {}).items():
        _check_schema(sub, f"{where}.properties.{name}")
    if isinstance(schema.get("items"), dict):
        _check_schema(schema["items"], f"{where}.items")
    if isinstance(schema.get("additionalProperties"), dict):
        _check_schema(schema["additionalProperties"], f"{where}.additionalProperties")


def _read_constraints(schema: dict[str, Any], where: str) -> list[tuple[str, str, str, Any]]:
    """``(operator, left, right, message)`` for each entry of ``x-constraints``."""
    out = []
    declared = schema.get(_CONSTRAINTS, [])
    if not isinstance(declared, list):
        raise ValueError(f"{where}: {_CONSTRAINTS} must be a list")
    props = schema.get("properties", {})
    for i, entry in enumerate(declared):
        ops = [op for op in _OPERATORS if isinstance(entry, dict) and op in entry]
        if len(ops) != 1 or set(entry) - {ops[0], "message"}:
            raise ValueError(f"{where}: {_CONSTRAINTS}[{i}] needs exactly one of lt, lte, gt, gte")
        pair = entry[ops[0]]
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(n, str) and n in props for n in pair)):
            raise ValueError(f"{where}: {_CONSTRAINTS}[{i}] must name two parameters of the schema")
        out.append((ops[0], pair[0], pair[1], entry.get("message")))
    return out


def _same_as_json(value: Any) -> Any:
    # 20.0 is written 20, as JavaScript (the runner) writes it: both sides show the same text.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def check_constraints(schema: dict[str, Any], params: dict[str, Any]) -> None:
    """Raise ParamError on the first broken ``x-constraints`` rule (values already validated)."""
    for op, left, right, message in _read_constraints(schema, "parameters_schema"):
        a, b = params.get(left), params.get(right)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        if not (numbers or (isinstance(a, str) and isinstance(b, str))):
            continue
        holds = {"lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b}[op]
        if not holds:
            shown_b = json.dumps(_same_as_json(b), ensure_ascii=False)
            shown_a = json.dumps(_same_as_json(a), ensure_ascii=False)
            raise ParamError(left, message or f"must be {_OPERATORS[op]} {right} ({shown_b}) (got {shown_a})")


# -- validation -------------------------------------------------------------------------------

def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _coerce_type(value: Any, expected: Any, name: str) -> Any:
    types = expected if isinstance(expected, list) else [expected]
    actual = _type_name(value)
    for t in types:
        if t == actual or (t == "number" and actual == "integer"):
            return value
        if t == "integer" and actual == "number" and math.isfinite(value) and value.is_integer():
            return int(value)  # 3.0 is an integer in JSON Schema
    raise ParamError(name, f"must be of type {' or '.join(types)} (got {_show(value)})")


def validate(schema: dict[str, Any], value: Any, name: str = "") -> Any:
    """Validate ``value`` against ``schema``; returns it with defaults applied."""
    if "type" in schema:
        value = _coerce_type(value, schema["type"], name)
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(_show(c) for c in schema["enum"])
        raise ParamError(name, f"must be one of {choices} (got {_show(value)})")
    if "const" in schema and value != schema["const"]:
        raise ParamError(name, f"must be {_show(schema['const'])} (got {_show(value)})")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ParamError(name, f"must be a finite number (got {value})")
        if "minimum" in schema and value < schema["minimum"]:
            raise ParamError(name, f"must be >= {schema['minimum']} (got {_show(value)})")
        if "maximum" in schema and value > schema["maximum"]:
            raise ParamError(name, f"must be <= {schema['maximum']} (got {_show(value)})")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise ParamError(name, f"must be > {schema['exclusiveMinimum']} (got {_show(value)})")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            raise ParamError(name, f"must be < {schema['exclusiveMaximum']} (got {_show(value)})")
    if isinstance(value, str):
        length = len(value)
        if "minLength" in schema and length < schema["minLength"]:
            raise ParamError(name, f"must be at least {schema['minLength']} characters "
                                   f"(got {_show(value)})")
        if "maxLength" in schema and length > schema["maxLength"]:
            raise ParamError(name, f"must be at most {schema['maxLength']} characters "
                                   f"(got {_show(value)})")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            raise ParamError(name, f"must match {schema['pattern']} (got {_show(value)})")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise ParamError(name, f"must have at least {schema['minItems']} items "
                                   f"(got {len(value)})")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise ParamError(name, f"must have at most {schema['maxItems']} items "
                                   f"(got {len(value)})")
        if isinstance(schema.get("items"), dict):
            value = [validate(schema["items"], v, f"{name}[{i}]") for i, v in enumerate(value)]
        if schema.get("uniqueItems"):
            seen: set[str] = set()
            for v in value:
                key = json.dumps(v, sort_keys=True)
                if key in seen:
                    raise ParamError(name, f"must not contain duplicates (got {_show(v)} twice)")
                seen.add(key)
    if isinstance(value, dict):
        value = _validate_object(schema, value, name)
    return value


def _validate_object(schema: dict[str, Any], value: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    out: dict[str, Any] = {}
    for key in value:
        sub = f"{name}.{key}" if name else key
        if key in props:
            out[key] = validate(props[key], value[key], sub)
        elif extra is False:
            known = ", ".join(sorted(props))
            raise ParamError(sub, f"unknown parameter (allowed: {known})")
        elif isinstance(extra, dict):
            out[key] = validate(extra, value[key], sub)
        else:
            out[key] = value[key]
    for key, sub_schema in props.items():
        if key not in out and "default" in sub_schema:
            out[key] = json.loads(json.dumps(sub_schema["default"]))  # a fresh copy
    for key in schema.get("required", []):
        if key not in out:
            raise ParamError(f"{name}.{key}" if name else key, "is required")
    return out


# -- command line -----------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, like parameter errors
        _fail(message)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _from_text(schema: dict[str, Any], text: str, name: str) -> Any:
    """Turn one command-line string into the JSON value the schema expects."""
    t = schema.get("type")
    if t == "integer":
        try:
            return int(text)
        except ValueError:
            raise ParamError(name, f"must be of type integer (got {_show(text)})") from None
    if t == "number":
        try:
            number = float(text)
        except ValueError:
            raise ParamError(name, f"must be of type number (got {_show(text)})") from None
        return int(number) if number.is_integer() and "." not in text else number
    if t == "array":
        items = schema.get("items", {})
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return [_from_text(items, p, f"{name}[{i}]") for i, p in enumerate(parts)]
    return text


def _help(schema: dict[str, Any]) -> str:
    bits = [schema.get("description", "")]
    bounds = []
    for key, label in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                       ("exclusiveMaximum", "<")):
        if key in schema:
            bounds.append(f"{label}{schema[key]}")
    if "enum" in schema:
        bounds.append("one of " + ", ".join(str(c) for c in schema["enum"]))
    if bounds:
        bits.append("(" + ", ".join(bounds) + ")")
    default = schema.get("default")
    if isinstance(default, list):
        default = ",".join(str(d) for d in default) or "none"
    bits.append(f"[default: {default}]")
    return " ".join(b for b in bits if b).replace("%", "%%")


def build_parser(manifest: dict[str, Any]) -> argparse.ArgumentParser:
    schema = manifest["parameters_schema"]
    parser = _Parser(prog=manifest["command"][-1] if manifest.get("command") else None,
                     description=manifest.get("description"))
    parser.add_argument("--describe", action="store_true",
                        help="print the parameters JSON Schema and exit")
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON instead of a table")
    parser.add_argument("--params-json", metavar="OBJECT",
                        help="all parameters as one JSON object (the runner's form)")
    group = parser.add_argument_group("parameters")
    for name, prop in schema.get("properties", {}).items():
        kwargs: dict[str, Any] = {"dest": f"param__{name}", "default": argparse.SUPPRESS,
                                  "help": _help(prop)}
        if prop.get("type") == "boolean":
            group.add_argument(_flag(name), action=argparse.BooleanOptionalAction, **kwargs)
        else:
            metavar = "A,B,..." if prop.get("type") == "array" else name.upper()
            group.add_argument(_flag(name), metavar=metavar, **kwargs)
    return parser


def _reject_constant(token: str) -> NoReturn:
    raise ValueError(f"{token} is not valid JSON")


def parse_params(script_file: str, argv: Optional[Sequence[str]] = None
                 ) -> tuple[dict[str, Any], argparse.Namespace]:
    """Parse and validate the script's parameters; returns ``(params, options)``.

    ``options.json`` tells whether the standalone output should be JSON. Exits 0 after
    ``--describe``; exits 2 on any invalid parameter.
    """
    manifest = load_manifest(script_file)
    schema = manifest["parameters_schema"]
    parser = build_parser(manifest)
    options = parser.parse_args(argv)
    if options.describe:
        sys.stdout.write(json.dumps(schema, indent=2) + "\n")
        sys.stdout.flush()
        raise SystemExit(0)
    flags = {k[len("param__"):]: v for k, v in vars(options).items() if k.startswith("param__")}
    try:
        if options.params_json is not None:
            if flags:
                given = ", ".join(_flag(n) for n in flags)
                _fail(f"--params-json cannot be combined with parameter flags (got {given})")
            try:
                raw = json.loads(options.params_json, parse_constant=_reject_constant)
            except ValueError as exc:
                _fail(f"--params-json: invalid JSON: {exc}")
            if not isinstance(raw, dict):
                _fail(f"--params-json: must be a JSON object (got {_type_name(raw)})")
        else:
            props = schema.get("properties", {})
            raw = {n: (v if isinstance(v, bool) else _from_text(props[n], v, n))
                   for n, v in flags.items()}
        params = validate(schema, raw)
        check_constraints(schema, params)
    except ParamError as exc:
        _fail(str(exc))
    return params, options
