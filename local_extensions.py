r"""The template's own Jinja filters; cookiecutter loads them through `_extensions` in cookiecutter.json.

Free text (project name, description, author) goes into TOML through `toml_escaped`, inside the
quotes of a basic string (`description = "{{ cookiecutter.description | toml_escaped }}"`, which
keeps the template's own pyproject.toml valid TOML): Jinja's `tojson` writes a character outside the
Basic Multilingual Plane (an emoji) as a surrogate pair `\ud83c\udf77`, which TOML refuses, so
`uv sync` failed on the generated pyproject.toml.
"""

from __future__ import annotations

import re

from cookiecutter.utils import simple_filter

# What a TOML basic string may not hold as it is (toml.io, v1.0.0, "String"): the quotation mark,
# the backslash and the control characters (U+0000-U+001F, U+007F). Tab is allowed, but escaping
# it too keeps the value readable on one line whatever the text.
TOML_ESCAPED = re.compile(r'["\\\x00-\x1f\x7f]')


def toml_escape(character: re.Match[str]) -> str:
    r"""The escape of one character: `\"` and `\\` as people write them, `\uXXXX` for a control."""
    found = character.group()
    return "\\" + found if found in '"\\' else f"\\u{ord(found):04X}"


@simple_filter
def toml_escaped(text: str) -> str:
    """`text` escaped for the inside of a TOML basic string ("..."), which a TOML reader then loads
    back to exactly `text`. Every other character stays as it is (the file is UTF-8), so there are
    no surrogate escapes."""
    return TOML_ESCAPED.sub(toml_escape, text)
