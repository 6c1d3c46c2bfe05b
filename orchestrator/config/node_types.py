"""The types of a composed config's leaves, for a ``ParamSchema`` of the user's own keys
(their primary config, or a Hydra app's config tree)."""

from __future__ import annotations

from omegaconf import (
    BooleanNode,
    DictConfig,
    EnumNode,
    FloatNode,
    IntegerNode,
    ListConfig,
    StringNode,
)

from orchestrator.config.params import ParamType

_NODE_TYPES: dict[type, type] = {
    IntegerNode: int,
    FloatNode: float,
    BooleanNode: bool,
    StringNode: str,
    EnumNode: str,
}


def own_types(
    cfg: DictConfig, *, skip: tuple[str, ...] = (), prefix: str = "", resolve: bool = True
) -> dict[str, ParamType]:
    """path -> type of every leaf: from a structured config's declared types, else from the
    default value (``null`` takes any value). ``resolve=False`` leaves interpolations (a Hydra
    app's ``${hydra:runtime.output_dir}``) unread: they take any value."""
    out: dict[str, ParamType] = {}
    for key in (str(k) for k in cfg):
        if key in skip:
            continue
        path = f"{prefix}{key}"
        node = cfg._get_node(key)
        assert node is not None  # a key the loop just listed
        if isinstance(node, DictConfig):
            out.update(own_types(node, prefix=f"{path}.", resolve=resolve))
            continue
        if isinstance(node, ListConfig):
            out[path] = ParamType(list, node._is_optional())
            continue
        unread = not resolve and (node._is_interpolation() or node._is_missing())
        value = None if unread else cfg[key]
        declared = next((t for n, t in _NODE_TYPES.items() if isinstance(node, n)), None)
        if declared is not None:
            out[path] = ParamType(declared, bool(node._is_optional()))
        else:  # AnyNode: the default value's type (inferred); null takes anything
            base = None if value is None else type(value)
            known = base if base in (int, float, bool, str) else None
            out[path] = ParamType(known, True, inferred=True)
    return out
