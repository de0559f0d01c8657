"""The options of one grade run, as one object from ``slolab grade`` to the grading plugin.

``slolab grade`` builds a ``GradeOptions``; ``runner`` turns it into pytest's command line with
``to_args``; the plugin reads it back with ``from_pytest`` (``pytest_addoption`` declares the
``--slolab-*`` options from the same table), fills in the lab's defaults with ``resolve``, and
keeps it on the grade run; the ``lab`` fixture opens the backend with ``open_backend``. Each
field is declared once, with its pytest option and help, so adding one is one line here and
its use where it matters. Running a grader directly with ``pytest --slolab-lab NAME
--slolab-backend sim ...`` goes through the same table.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import pytest

from slolab import errors, paths
from slolab.backends import base
from slolab.catalog import lab as lab_mod

Backend = Literal["sim", "kind", "cluster"]
BACKENDS: tuple[Backend, ...] = ("sim", "kind", "cluster")


def _option(flag: str, help: str, *, metavar: str | None = None, turns_off: bool = False) -> Any:
    """Field metadata: its pytest option ``flag``; ``turns_off`` for a flag that sets a
    default-True field to False (``--slolab-no-plot``)."""
    return {"flag": flag, "help": help, "metavar": metavar, "turns_off": turns_off}


@dataclasses.dataclass(frozen=True)
class GradeOptions:
    """Everything a grade run is told: which lab, where, with which seed, what to write."""

    lab: str = dataclasses.field(
        metadata=_option(
            "--slolab-lab", "grade the lab labs/NAME; without it this plugin does nothing", metavar="NAME"
        )
    )
    backend: Backend = dataclasses.field(
        default="sim", metadata=_option("--slolab-backend", "where the lab runs (default: sim)")
    )
    seed: int | None = dataclasses.field(
        default=None,
        metadata=_option(
            "--slolab-seed", "random seed of the run (default: the lab's first seed)", metavar="INT"
        ),
    )
    workspace: Path | None = dataclasses.field(
        default=None,
        metadata=_option(
            "--slolab-workspace", "the learner's manifests (default: workspace/<lab>)", metavar="PATH"
        ),
    )
    report_dir: Path | None = dataclasses.field(
        default=None,
        metadata=_option(
            "--slolab-report-dir",
            "where the JSON report and timeline go (default: <workspace>/reports)",
            metavar="PATH",
        ),
    )
    plot: bool = dataclasses.field(
        default=True,
        metadata=_option("--slolab-no-plot", "do not draw the timeline PNG", turns_off=True),
    )
    context: str | None = dataclasses.field(
        default=None,
        metadata=_option(
            "--slolab-context",
            "kubeconfig context of the kind/cluster backend (kind: kind-slolab)",
            metavar="NAME",
        ),
    )
    in_cluster: bool = dataclasses.field(
        default=False,
        metadata=_option(
            "--slolab-in-cluster",
            "kind/cluster: use the pod's service account and cluster DNS (the operator's grading Job)",
        ),
    )
    namespace: str | None = dataclasses.field(
        default=None,
        metadata=_option(
            "--slolab-namespace", "kind/cluster: the lab's namespace (default lab-<name>)", metavar="NS"
        ),
    )
    summary_file: Path | None = dataclasses.field(
        default=None,
        metadata=_option(
            "--slolab-summary-file",
            "also write a compact JSON summary (< 4 KiB) here, e.g. /dev/termination-log",
            metavar="PATH",
        ),
    )

    def __post_init__(self) -> None:
        if self.in_cluster and self.backend not in ("kind", "cluster"):
            raise errors.InputError(errors.Problem("--in-cluster", "needs --backend kind or cluster"))
        if self.backend not in BACKENDS:
            raise errors.InputError(
                errors.Problem("--backend", f"expected one of {', '.join(BACKENDS)} (got {self.backend!r})")
            )

    # ---- defaults ----------------------------------------------------------------------------

    def resolve(self, lab: lab_mod.Lab) -> GradeOptions:
        """These options with every default filled in: the lab's first seed, workspace/<lab>,
        <workspace>/reports, all paths absolute."""
        workspace = Path(self.workspace or paths.workspace(self.lab)).resolve()
        return dataclasses.replace(
            self,
            seed=lab.seeds[0] if self.seed is None else self.seed,
            workspace=workspace,
            report_dir=Path(self.report_dir or workspace / "reports").resolve(),
        )

    def report_folder(self) -> Path:
        """Where the reports of these (resolved) options go."""
        if self.report_dir is None:
            raise ValueError("report_folder needs resolved options: call resolve(lab) first")
        return self.report_dir

    def report_path(self, name: str) -> Path:
        """The file ``name`` in the report folder."""
        return self.report_folder() / name

    def open_backend(self, lab: lab_mod.Lab) -> base.Backend:
        """The backend these (resolved) options name, running ``lab``."""
        if self.seed is None or self.workspace is None:
            raise ValueError("open_backend needs resolved options: call resolve(lab) first")
        return base.open_backend(
            self.backend,
            lab,
            self.workspace,
            self.seed,
            context=self.context,
            in_cluster=self.in_cluster,
            namespace=self.namespace,
        )

    # ---- pytest ------------------------------------------------------------------------------

    def to_args(self) -> list[str]:
        """The ``--slolab-*`` command line that ``from_pytest`` reads back as these options."""
        args = []
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if value is None or value == f.default:
                continue
            if isinstance(value, bool):  # a flag: given only to change the default
                args.append(meta["flag"])
            else:
                args.append(f"{meta['flag']}={value}")
        return args

    @classmethod
    def add_pytest_options(cls, group: pytest.OptionGroup) -> None:
        """Declare one ``--slolab-*`` option per field (``pytest --help`` lists them)."""
        types = {"seed": int, "workspace": Path, "report_dir": Path, "summary_file": Path}
        for f in dataclasses.fields(cls):
            meta, dest = f.metadata, f"slolab_{f.name}"
            if isinstance(f.default, bool):
                action = "store_false" if meta["turns_off"] else "store_true"
                group.addoption(meta["flag"], action=action, dest=dest, default=f.default, help=meta["help"])
            else:
                group.addoption(
                    meta["flag"],
                    dest=dest,
                    metavar=meta["metavar"],
                    default=None if f.default is dataclasses.MISSING else f.default,
                    type=types.get(f.name),
                    choices=BACKENDS if f.name == "backend" else None,
                    help=meta["help"],
                )

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> GradeOptions | None:
        """The options of this pytest run; None without ``--slolab-lab`` (the plugin stays inert)."""
        values = {f.name: config.getoption(f"slolab_{f.name}") for f in dataclasses.fields(cls)}
        if not values["lab"]:
            return None
        return cls(**values)
