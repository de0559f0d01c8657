"""The model-version images the scenarios need on kind: one ``slolab/serve:<tag>`` per version.

A scenario lists the versions of its model server by image tag (scenario.yaml
``model.versions``, scenario.py ModelVersion); the simulator plays a pod's version from its
image tag (sim/modelversion.py). On kind the pod runs the image itself, so every listed tag must
be an image whose ``slolab serve`` plays that version: the base model-server image with
``SLOLAB_SERVE_TTFT_FACTOR`` and ``SLOLAB_SERVE_ERROR_RATE`` set (serve/config.py reads them).
``make cluster`` builds and kind-loads them (clusterup.py).

Two scenarios may list the same tag only with the same behaviour (one image serves both). The
tag of the base image itself is not rebuilt: a version listed under it must be healthy, since
every other scenario runs that image as the healthy preset.
"""

from __future__ import annotations

import dataclasses

from slolab import errors, paths
from slolab.catalog import scenario as scenario_mod

#: the repository of the model-server image, as charts/llm-serving values images.slolabServe
REPOSITORY = "slolab/serve"


@dataclasses.dataclass(frozen=True)
class VersionImage:
    """One image to build: its reference and the version it plays."""

    tag: str
    ttft_factor: float
    error_rate: float

    @property
    def image(self) -> str:
        return f"{REPOSITORY}:{self.tag}"


def version_images(base_image: str, scenarios: list[str] | None = None) -> list[VersionImage]:
    """The images of every version the scenarios (default: all) list, by tag, but the base's tag.

    Raises CatalogError when two scenarios give one tag different behaviours, or when the base
    image's tag is listed as a regressed version."""
    base_tag = base_image.rsplit(":", 1)[1]
    found: dict[str, tuple[VersionImage, str]] = {}
    problems: list[errors.Problem] = []
    for name in scenario_mod.names() if scenarios is None else scenarios:
        sc = scenario_mod.load(name)
        if sc.model.versions is None or sc.components.serving.engine != "slolab-serve":
            continue
        file = paths.relative(sc.directory / "scenario.yaml")
        for tag, version in sc.model.versions.items():
            image = VersionImage(tag, float(version.ttft_factor), float(version.error_rate))
            field = f"model.versions.{tag}"
            healthy = image.ttft_factor == 1 and image.error_rate == 0
            if tag == base_tag:
                if not healthy:
                    problems.append(
                        errors.Problem(
                            file,
                            f"{REPOSITORY}:{tag} is the base model-server image every scenario runs "
                            "healthy; give the regressed version another tag",
                            field=field,
                        )
                    )
                continue
            if tag in found and found[tag][0] != image:
                problems.append(
                    errors.Problem(
                        file,
                        f"{REPOSITORY}:{tag} is listed by {found[tag][1]} with another behaviour "
                        f"({found[tag][0]}); one tag is one image",
                        field=field,
                    )
                )
                continue
            found.setdefault(tag, (image, file))
    if problems:
        raise errors.CatalogError(problems, "Fix model.versions so that each image tag has one behaviour.")
    return [image for image, _ in found.values()]
