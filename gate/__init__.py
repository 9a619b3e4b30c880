"""The one disclosure path: decide -> fetch -> audit -> return (DESIGN.md, the flow of one request).

No resolver reaches a connector or the store for client data around it.
"""

from gate.disclosure import Disclosure, SectionResult, SectionStatus
from gate.gate import Gate

__all__ = ["Disclosure", "Gate", "SectionResult", "SectionStatus"]
