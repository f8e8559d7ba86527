"""Fixtures for the simulator tests: the demo catalogue (real lexicon) and a fake lexicon."""

from __future__ import annotations

import numpy as np
import pytest

from taste2vec.data.demo import load_demo_catalogue
from taste2vec.sim.subscribers import SimCatalogue, catalogue_from_coffees
from taste2vec.sim.subscribers.catalogue import FamilyLexicon

FAMILIES = ("Fruity", "Floral", "Roasted", "Nutty/Cocoa")


class FakeLexicon:
    """Four families, one keyword each: enough to test the simulator without the real lexicon."""

    families = FAMILIES
    _words = ("berry", "jasmine", "smoke", "chocolate")

    def family_distribution(self, text: str) -> np.ndarray:
        out = np.array([text.lower().count(w) for w in self._words], dtype=np.float32)
        return out / out.sum() if out.sum() else out


@pytest.fixture
def fake_lexicon() -> FamilyLexicon:
    return FakeLexicon()


@pytest.fixture(scope="session")
def demo_catalogue() -> SimCatalogue:
    """The bundled demo catalogue as the simulator sees it (real lexicon), built once."""
    return catalogue_from_coffees(load_demo_catalogue(), name="demo")
