"""Flavour lexicon: English and Korean tasting notes mapped onto the SCA/WCR flavour wheel.

``load_lexicon()`` returns the bundled :class:`Lexicon` (110 wheel nodes with Korean
names, about 2,000 synonyms and roaster metaphors, sensory attribute cues). Use
``extract`` for wheel descriptors, ``family_distribution`` for a 9-family summary,
``attributes`` for structure cues (acidity, body...) and ``render_english`` to give an
English-only text model a readable version of a Korean note.
"""

from __future__ import annotations

from taste2vec.lexicon.extractor import Descriptor, Lexicon, load_lexicon
from taste2vec.lexicon.wheel import WheelNode

__all__ = ["Descriptor", "Lexicon", "WheelNode", "load_lexicon"]
