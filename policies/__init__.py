"""Policy packs per jurisdiction: schema, loader, compiler, test runner. The packs are YAML in packs/."""

from policies.compiler import CompiledRule, Plan, RuleHit
from policies.errors import PolicyError
from policies.loader import PolicySet, load_policy_set

__all__ = ["CompiledRule", "Plan", "PolicyError", "PolicySet", "RuleHit", "load_policy_set"]
