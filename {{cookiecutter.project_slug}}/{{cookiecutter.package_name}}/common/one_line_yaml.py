"""Any value as YAML on one line that loads back exactly: what data/schema.yaml is written with.

Column names are whatever a file's header holds: survey questions with `:` and `#`, line breaks,
`yes`, `1e3`. PyYAML's default `width` folds long keys (which then do not load back), a line
separator inside a plain scalar ends the line for some readers, and DVC reads the file with a
YAML 1.2 parser (ruamel.yaml) that takes `1e3` for a number where PyYAML (YAML 1.1) does not.
"""

from __future__ import annotations

import math
import re

import yaml

LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")  # what YAML readers may take for the end of a line
# What YAML 1.2 (ruamel.yaml, DVC's parser) reads as a number, a boolean or null, beyond YAML 1.1.
YAML12_TYPED = re.compile(
    r"[-+]?(\.?[0-9][0-9_.]*([eE][-+]?[0-9]+)?|0[oxb][0-9a-fA-F_]+|\.(inf|Inf|INF|nan|NaN|NAN))"
    r"|true|True|TRUE|false|False|FALSE|null|Null|NULL|~|"
)


class OneLineDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting also the texts that YAML 1.2 reads as numbers or booleans
    (`1e3`, `0o17`): DVC reads data/schema.yaml with ruamel.yaml, a YAML 1.2 parser, and two names
    it reads as the same number would be one key twice, which it refuses."""


def quoted_if_typed(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "'" if YAML12_TYPED.fullmatch(text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


OneLineDumper.add_representer(str, quoted_if_typed)


def yaml_value(value: object) -> str:
    """`value` as YAML on one line (mappings and lists in flow style) that loads back as it was:
    as PyYAML writes it, or, where that would break the line (a newline, a line separator), with
    every text double-quoted and escaped."""
    options = {"default_flow_style": True, "allow_unicode": True, "sort_keys": False, "width": math.inf}
    text = yaml.dump(value, Dumper=OneLineDumper, **options)
    text = text.removesuffix("\n...\n").removesuffix("\n")  # not strip(): "\xa0" may end a value
    if LINE_BREAKS.intersection(text) or not loads_back(text, value):
        text = yaml.dump(value, Dumper=OneLineDumper, default_style='"', **options).removesuffix("\n")
    return text


def loads_back(text: str, value: object) -> bool:
    """Whether YAML `text` loads as `value` (PyYAML writes a lone `=` plainly, then can't read it)."""
    try:
        return yaml.safe_load(text) == value
    except yaml.YAMLError:
        return False
