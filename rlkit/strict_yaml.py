"""A PyYAML SafeLoader for configs: a key given twice is an error, and numbers and booleans read as YAML 1.2."""

from __future__ import annotations

import re

import yaml

# What PyYAML's constructors raise besides YAMLError for a scalar they cannot build: `2020-13-45`
# (a timestamp with month 13), `!!int abc`, `!!float x`, `!!timestamp foo`.
UNREADABLE_VALUE = (ValueError, TypeError, AttributeError)


def unreadable(error: Exception) -> str:
    """Why PyYAML could not build a value, in a few words."""
    if isinstance(error, ValueError) and str(error):
        return str(error).splitlines()[0]  # e.g. "month must be in 1..12"
    return "a value that its tag (such as !!timestamp) cannot build"


_INT_TAG, _FLOAT_TAG, _BOOL_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently),
    and reads numbers and booleans as YAML 1.2 does: `010` is ten, not YAML 1.1's octal eight (so
    `seed=010` and `seed=008` are two seeds), `1:30` is a string, not the sexagesimal 90, and only
    true and false are booleans (YAML 1.1 also reads yes, no, on and off, so `env.id=no` was False)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT_TAG, _FLOAT_TAG, _BOOL_TAG)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = self.construct_scalar(node).replace("_", "")
        sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
        base = {"0x": 16, "0o": 8}.get(digits[:2], 10)
        return sign * int(digits[2:] if base != 10 else digits, base)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: list = []  # a list, not a set: a key may be unhashable (the base class reports that)
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` merges; keys given here override
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' is given twice", key_node.start_mark)
            seen.append(key)
        return super().construct_mapping(node, deep=deep)


StrictLoader.add_implicit_resolver(_INT_TAG, re.compile(r"^[-+]?(?:[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+)$"),
                                    list("-+0123456789"))
StrictLoader.add_implicit_resolver(  # PyYAML's YAML 1.1 floats less the sexagesimal form
    _FLOAT_TAG, re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                              |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                              |[-+]?\.(?:inf|Inf|INF)
                              |\.(?:nan|NaN|NAN))$""", re.VERBOSE), list("-+0123456789."))
StrictLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
StrictLoader.add_constructor(_INT_TAG, StrictLoader.construct_yaml_int)
