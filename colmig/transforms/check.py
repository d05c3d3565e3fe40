"""``colmig transform check CONFIG`` and ``colmig transform list``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from colmig.errors import EXIT_OK

if TYPE_CHECKING:
    from colmig.config import Settings
    from colmig.transforms.model import TransformConfig


def run_check(config_path: str, settings: Settings) -> int:
    """Validate the whole transformation file without data and print a summary (exit 0).

    Problems raise ConfigError (the CLI exits 2) naming file:line:column. Column names and
    types are checked when a job runs, against the real source schema.
    """
    from colmig.transforms.loader import load_config

    config = load_config(config_path, settings)
    print(summarize(config))
    return EXIT_OK


def summarize(config: TransformConfig) -> str:
    """A short human summary of each transformation in ``config``."""
    lines = [
        f"{config.path}: OK, version {config.version}, "
        f"{len(config.transformations)} transformation(s)"
    ]
    for t in config.transformations:
        target = t.target_table or t.source_table or "(target)"
        lines.append(f"- {t.name}: {t.source_table or '(source)'} -> {target}")
        if t.description:
            lines.append(f"    {t.description}")
        lines.extend(
            f"    {'drop ' + (m.source or '') if m.dropped else m.describe()}" for m in t.mappings
        )
        if t.passthrough:
            lines.append("    (other source columns passed through)")
        lines.extend(f"    where {f.describe()}" for f in t.filters)
        extras = []
        if t.batch_size:
            extras.append(f"batch_size {t.batch_size}")
        if t.on_error:
            extras.append(f"on_error {t.on_error}")
        if extras:
            lines.append("    " + ", ".join(extras))
    waves = config.stages()
    if len(waves) > 1:
        order = " ; ".join(", ".join(t.name for t in wave) for wave in waves)
        lines.append(f"run order (';' separates dependent steps): {order}")
    return "\n".join(lines)


def run_list(settings: Settings) -> int:
    """Print every transform available (built-in and custom), marking per-row ones slow."""
    from colmig.transforms import registry

    registry.load_custom(settings.transforms_dir)
    specs = registry.all_transforms()
    width = max(len(s.name) for s in specs)
    kind = None
    for spec in specs:
        if spec.kind != kind:
            kind = spec.kind
            print("built-in transforms:" if kind == "built-in" else "\ncustom transforms:")
        slow = "  [SLOW: per-row Python]" if spec.per_row else ""
        origin = f"  ({spec.origin})" if spec.kind != "built-in" else ""
        print(f"  {spec.name:<{width}} {spec.signature}  {spec.summary}{slow}{origin}")
    return EXIT_OK
