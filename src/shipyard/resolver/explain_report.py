"""The body of a failure's explanation (:class:`DerivationReport`): pubgrub-rs'
reporter, which walks the derivation tree and writes numbered lines of
"Because …, …" / "And because …, …"."""

from __future__ import annotations

from shipyard.resolver.explain_words import Words
from shipyard.resolver.solver import ROOT, Incompatibility

__all__ = ["DerivationReport"]


def _is_root(incompatibility: Incompatibility) -> bool:
    return incompatibility.kind == "dependency" and incompatibility.terms[0][0] == ROOT


class DerivationReport:
    """pubgrub-rs' reporter: lines of "Because …, …" over the derivation tree."""

    def __init__(self, words: Words, failure: Incompatibility) -> None:
        self.words = words
        self.lines: list[str] = []
        self.refs: dict[int, int] = {}
        self.count = 0
        uses: dict[int, int] = {}
        stack = [failure]
        visited: set[int] = set()
        while stack:
            node = stack.pop()
            if node.causes is None:
                continue
            for cause in node.causes:
                uses[id(cause)] = uses.get(id(cause), 0) + 1
                if id(cause) not in visited:
                    visited.add(id(cause))
                    stack.append(cause)
        self.shared = {key for key, count in uses.items() if count > 1}
        if failure.causes is None:
            self.lines.append(words.external(failure).capitalize() + ".")
        else:
            self._build(failure)

    def _ref(self, node: Incompatibility) -> int | None:
        return self.refs.get(id(node))

    def _add_ref(self) -> int:
        self.count += 1
        if self.lines:
            self.lines[-1] = f"{self.lines[-1]} ({self.count})"
        return self.count

    def _build(self, node: Incompatibility) -> None:
        self._helper(node)
        if id(node) in self.shared and id(node) not in self.refs:
            self.refs[id(node)] = self._add_ref()

    def _helper(self, node: Incompatibility) -> None:
        assert node.causes is not None
        first, second = node.causes
        words = self.words
        current = words.conclusion(node)
        if first.causes is None and second.causes is None:
            if _is_root(second) and not _is_root(first):
                first, second = second, first  # the project's own requirement first
            self.lines.append(
                f"Because {words.external(first)} and {words.external(second)}, {current}."
            )
        elif second.causes is None:
            self._one_each(first, second, current)
        elif first.causes is None:
            self._one_each(second, first, current)
        else:
            ref1, ref2 = self._ref(first), self._ref(second)
            if ref1 is not None and ref2 is not None:
                self.lines.append(
                    f"Because {words.conclusion(first)} ({ref1}) and "
                    f"{words.conclusion(second)} ({ref2}), {current}."
                )
            elif ref1 is not None:
                self._build(second)
                self.lines.append(f"And because {words.conclusion(first)} ({ref1}), {current}.")
            elif ref2 is not None:
                self._build(first)
                self.lines.append(f"And because {words.conclusion(second)} ({ref2}), {current}.")
            else:
                self._build(first)
                if id(first) in self.shared:
                    self.lines.append("")
                    self._build(node)
                else:
                    ref = self._add_ref()
                    self.refs[id(first)] = ref
                    self.lines.append("")
                    self._build(second)
                    self.lines.append(f"And because {words.conclusion(first)} ({ref}), {current}.")

    def _one_each(self, derived: Incompatibility, external: Incompatibility, current: str) -> None:
        words = self.words
        ref = self._ref(derived)
        if ref is not None:
            self.lines.append(
                f"Because {words.conclusion(derived)} ({ref}) and {words.external(external)}, "
                f"{current}."
            )
            return
        assert derived.causes is not None
        a, b = derived.causes
        if a.causes is not None and b.causes is None and self._ref(a) is None:
            self._build(a)
            self.lines.append(
                f"And because {words.external(b)} and {words.external(external)}, {current}."
            )
        elif b.causes is not None and a.causes is None and self._ref(b) is None:
            self._build(b)
            self.lines.append(
                f"And because {words.external(a)} and {words.external(external)}, {current}."
            )
        else:
            self._build(derived)
            self.lines.append(f"And because {words.external(external)}, {current}.")
