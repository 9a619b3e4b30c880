"""The error codes a caller may see are one closed set, in the code and in the schema."""

from __future__ import annotations

import re
from pathlib import Path

import core.errors as errors
from core.errors import CasebridgeError, ErrorCode, error_code


def _subclasses(cls: type[CasebridgeError]) -> set[type[CasebridgeError]]:
    out = set(cls.__subclasses__())
    for sub in list(out):
        out |= _subclasses(sub)
    return out


def test_every_error_has_a_code_of_the_enum_and_the_schema_lists_them_all() -> None:
    codes = {cls.code for cls in _subclasses(CasebridgeError)} | {CasebridgeError.code}
    assert codes == {c.value for c in ErrorCode}, codes ^ {c.value for c in ErrorCode}
    schema = (Path(__file__).parent.parent / "schema.graphql").read_text(encoding="utf-8")
    listed = re.search(r"enum ErrorCode \{([^}]*)\}", schema)
    assert listed is not None
    assert set(re.findall(r"^\s+([A-Z_]+)$", listed[1], re.M)) == {c.name for c in ErrorCode}
    # every error class is documented in the module's tree
    assert all(cls.__name__ in (errors.__doc__ or "") for cls in _subclasses(CasebridgeError))
    assert error_code("AGENCY_TIMEOUT") is ErrorCode.AGENCY_TIMEOUT and error_code("RENAMED_SINCE") is None


def test_every_basis_a_permit_rule_records_is_one_of_the_schemas() -> None:
    """The basis recorded for a permitted disclosure is always a Basis (stored as its value; the schema's
    enum by name), and the two legal bases are the vocabulary's own."""
    from core.vocabulary import LegalBasis
    from policies.cedar import PERMIT_BASES
    from policies.decisions import Basis, basis_of

    assert set(PERMIT_BASES.values()) == {b.value for b in Basis}
    assert {Basis.FERPA_99_36.value, Basis.BREAK_GLASS.value} == {b.value for b in LegalBasis}
    assert basis_of("consent") is Basis.CONSENT and basis_of("a-basis-of-another-version") is None
    schema = (Path(__file__).parent.parent / "schema.graphql").read_text(encoding="utf-8")
    listed = re.search(r"enum Basis \{([^}]*)\}", schema)
    assert listed is not None and set(re.findall(r"^\s+([A-Z_0-9]+)$", listed[1], re.M)) == {b.name for b in Basis}
