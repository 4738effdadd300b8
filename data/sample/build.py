#!/usr/bin/env python3
"""Build Forge's sample corpus: ``en.jsonl``, ``zh.jsonl`` and ``planted.json``.

Run ``python data/sample/build.py`` (standard library only). The output is a pure
function of this file: running it again rewrites the same bytes. ``--check`` rebuilds
in memory and fails if the files on disk differ.

Everything here was written for this repository and is dedicated to the public
domain (CC0 1.0), except the Tang-dynasty poems in ``ZH_POEMS``, which are public
domain by age. All people, companies, towns, courts, cases and figures are
fictional. The personal data planted for the cleaning demo is fake: reserved
example domains, fictional phone ranges, published test card numbers, the
published example IBANs, documentation IP ranges, and Chinese resident ID numbers:
the GB 11643 example and others with a valid checksum but a birth date in
1900-1909 (see README.md).

How a document is made: a genre function picks a template for each paragraph
from hand-written alternatives and fills it with names and numbers drawn from a
seeded ``random.Random``. Afterwards the planting step adds exact duplicates,
near-duplicates, personal data, URLs and junk, and records every plant in
``planted.json`` (1-based line numbers in the JSONL files).
"""

# Chinese text here uses full-width punctuation (，。：) on purpose:
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

SEED = 20250601
HERE = Path(__file__).resolve().parent
MAX_CHARS = 3000


# --------------------------------------------------------------------------- helpers


class Pick:
    """Seeded choices. Never iterate over sets here: str hashes vary per process."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def one(self, seq):
        return seq[self.r.randrange(len(seq))]

    def some(self, seq, lo: int, hi: int | None = None) -> list:
        """lo..hi items of seq, in their original order; a tuple item is a set of
        alternatives of which one is taken."""
        hi = min(len(seq), lo if hi is None else hi)
        k = self.r.randint(min(lo, hi), hi)
        idx = sorted(self.r.sample(range(len(seq)), k))
        return [self.one(seq[i]) if isinstance(seq[i], tuple) else seq[i] for i in idx]

    def subset(self, seq, lo: int, hi: int) -> list:
        """lo..hi items of seq in their original order, taken as they are."""
        k = self.r.randint(lo, min(hi, len(seq)))
        return [seq[i] for i in sorted(self.r.sample(range(len(seq)), k))]

    def int(self, a: int, b: int) -> int:
        return self.r.randint(a, b)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def shuffle(self, seq: list) -> None:
        self.r.shuffle(seq)


def words(text: str) -> list[str]:
    return text.split()


def fill(template: str, slots: dict) -> str:
    return template.format_map(slots)


def fill_all(templates, slots: dict) -> list[str]:
    return [fill(t, slots) for t in templates]


def para(sentences, sep: str = " ") -> str:
    return sep.join(s for s in sentences if s)


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    s = s[4:] + s[:4]
    n = "".join(str(int(c, 36)) for c in s)
    return int(n) % 97 == 1


_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def cn_id(first17: str) -> str:
    """Append the GB 11643-1999 check character."""
    total = sum(int(c) * w for c, w in zip(first17, _CN_WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def cn_id_ok(idn: str) -> bool:
    return len(idn) == 18 and cn_id(idn[:17]) == idn


# The published example numbers (test cards, example IBANs, the GB 11643 example ID).
TEST_CARDS = [
    "4111 1111 1111 1111",
    "4012 8888 8888 1881",
    "5555 5555 5555 4444",
    "5105 1051 0510 5100",
    "3782 822463 10005",
    "6011 1111 1111 1117",
]
BAD_CARD = "4111 1111 1111 1112"  # fails the Luhn check: a negative case
EXAMPLE_IBANS = [
    "GB82 WEST 1234 5698 7654 32",
    "DE89 3704 0044 0532 0130 00",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
]
GB_EXAMPLE_ID = "11010519491231002X"
for _c in TEST_CARDS:
    assert luhn_ok(_c), _c
assert not luhn_ok(BAD_CARD)
for _i in EXAMPLE_IBANS:
    assert iban_ok(_i), _i
assert cn_id_ok(GB_EXAMPLE_ID)


def fake_cn_ids(p: Pick, n: int) -> list[str]:
    regions = ["110105", "310104", "440305", "510107", "330106", "420111"]
    out = [GB_EXAMPLE_ID]
    while len(out) < n:
        birth = f"190{p.int(0, 9)}{p.int(1, 12):02d}{p.int(1, 28):02d}"
        out.append(cn_id(p.one(regions) + birth + f"{p.int(1, 999):03d}"))
    return out


ORDINAL_CENTURY = {
    12: "twelfth",
    13: "thirteenth",
    14: "fourteenth",
    15: "fifteenth",
    16: "sixteenth",
    17: "seventeenth",
    18: "eighteenth",
}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


# =========================================================================== English

EN_FIRST = words(
    "Alice Amara Ben Carla Daniel Edith Farid Grace Hamish Imogen Jonah Kiran Leah Marcus Nadia "
    "Owen Priya Quentin Rosa Samuel Tessa Umar Vera William Yusuf Zoe Arthur Bethan Callum "
    "Delia Esme Felix Gemma Harriet Isaac Joanna Kofi Lydia Martin Niamh Oliver Philippa Rhys "
    "Sunita Theo Una Victor Wendy Abigail Bruno Cecily Dominic Eleanor Frank"
)
EN_LAST = words(
    "Abbott Barlow Carver Dunmore Ellison Fairbairn Garside Holloway Ingram Jessop Kendrick "
    "Lowther Marsden Norbury Okafor Pennington Quayle Rowntree Sedgwick Thackeray Underwood "
    "Varley Whitlock Yardley Ashworth Brennan Calloway Drummond Eastwood Fenwick Gilchrist "
    "Hartley Iqbal Jameson Kavanagh Lindqvist Mbeki Nakamura Oyelaran Patel Ramsay Sinclair"
)
EN_TOWN_A = words(
    "Ash Bram Cold Elder Fen Glen Hart Kings Lark Mill Oak Pen Red Stan Thorn Wil Wren Brook "
    "Alder Birch Crane Dun Fern Hollin Marl Rook Sand Wick"
)
EN_TOWN_B = words("ford bury wick ton field mouth ley stead bridge well haven dale combe thorpe")
EN_COUNTIES = ["Westmere", "Harrowdale", "Southmoor", "Eastling", "Northwold", "Carrick Vale"]
EN_RIVERS = [
    "Aven",
    "Leddon",
    "Sorrel",
    "Wyre",
    "Tamsey",
    "Ebble",
    "Culm",
    "Misbourne",
    "Kennet Brook",
    "Ouse Water",
    "Lark",
    "Hollin Beck",
]
EN_CITIES = ["Castleford Regis", "Harrowgate", "Westmere City", "Kingsbridge", "Porthaven"]
EN_SAINTS = ["Michael", "Mary", "Andrew", "Peter", "Lawrence", "Helen", "Oswald", "Bride"]
EN_STREETS = ["Bridge Street", "Mill Lane", "Sheep Street", "Church Row", "Tanner's Walk"]
EN_CO_A = words(
    "Harbor Northfield Bluewater Granite Kestrel Meridian Copperleaf Halcyon Ridgeway Lantern "
    "Silverbirch Ironbridge Oakmont Tidewater Summit Fairwind Larkspur Beacon"
)
EN_CO_B = [
    "Logistics",
    "Foods",
    "Instruments",
    "Textiles",
    "Software",
    "Packaging",
    "Building Supplies",
    "Optics",
    "Furniture",
    "Energy Systems",
    "Printing",
    "Analytics",
]
EN_CO_C = ["Ltd", "Limited", "plc", "& Co.", "Group"]


class EnNames:
    def __init__(self, p: Pick) -> None:
        self.p = p
        self.used_towns: list[str] = []

    def person(self) -> str:
        return f"{self.p.one(EN_FIRST)} {self.p.one(EN_LAST)}"

    def town(self) -> str:
        for _ in range(200):
            t = self.p.one(EN_TOWN_A) + self.p.one(EN_TOWN_B)
            if t not in self.used_towns:
                self.used_towns.append(t)
                return t
        return self.p.one(EN_TOWN_A) + self.p.one(EN_TOWN_B)

    def company(self) -> str:
        return f"{self.p.one(EN_CO_A)} {self.p.one(EN_CO_B)} {self.p.one(EN_CO_C)}"

    def place_slots(self) -> dict:
        p = self.p
        town = self.town()
        neighbor = p.one(EN_TOWN_A) + p.one(EN_TOWN_B)
        while neighbor == town:
            neighbor = p.one(EN_TOWN_A) + p.one(EN_TOWN_B)
        return {
            "town": town,
            "neighbor": neighbor,
            "county": p.one(EN_COUNTIES),
            "river": p.one(EN_RIVERS),
            "city": p.one(EN_CITIES),
            "street": p.one(EN_STREETS),
            "name": self.person(),
            "name2": self.person(),
            "school": p.one(
                [
                    f"{town} Academy",
                    f"{town} Community School",
                    "St " + p.one(EN_SAINTS) + "'s School",
                    f"{p.one(EN_RIVERS)} Valley High School",
                ]
            ),
            "weekday": p.one(WEEKDAYS),
            "month": p.one(MONTHS),
        }


# ---------------------------------------------------------------- town encyclopedia

EN_TOWN_LEAD = [
    "{town} is a market town in the {valley} Valley, in the county of {county}. It lies on "
    "the {river} about {dist} kilometres {dir} of {city}, and had a population of {pop} at "
    "the {census} census.",
    "{town} is a small town and civil parish in {county}, set where the {river} leaves the "
    "hills of the {valley} Valley. The town is {dist} kilometres {dir} of the county seat, "
    "{city}. At the {census} census its population was {pop}.",
    "{town} is a riverside town in the county of {county}, best known for its {product}. It "
    "stands on the {river}, roughly {dist} kilometres {dir} of {city}, and was home to {pop} "
    "people at the {census} census.",
]
EN_TOWN_SECTIONS = [
    (
        "History",
        [
            (
                "A settlement at the crossing of the {river} is recorded as early as "
                "{early_year}, when it appears in a land survey as a hamlet of a dozen "
                "households.",
                "The first written mention of the place dates from {early_year}, in a deed "
                "granting grazing rights on the water meadows to the canons of {city}.",
            ),
            "The town grew around a weekly market granted by charter in {charter_year}, and "
            "the broad main street still follows the line of the old market place.",
            "In the {century} century the town prospered from {old_industry}, and several of "
            "the stone houses on {street} were built by merchants in that trade.",
            "A fire in {fire_year} destroyed much of the timber-framed centre; the town was "
            "rebuilt in brick, which gives the older streets their present appearance.",
            "The arrival of the railway in {rail_year} brought new workshops and a rapid "
            "increase in population, which nearly doubled over the following thirty years.",
            "During the twentieth century the decline of {old_industry} led to a long period "
            "of hardship, and many younger residents left to find work in {city}.",
            "Since the {recent_decade}s the town has recovered, helped by new housing, a small "
            "business park and a steady growth in visitors.",
        ],
    ),
    (
        "Geography",
        [
            "The town occupies a terrace of gravel above the flood plain of the {river}, at "
            "an elevation of about {elev} metres.",
            "To the north the land rises towards {hill}, a ridge of open heath that reaches "
            "{hill_elev} metres and offers wide views over the valley.",
            "The {river} has flooded the lower streets several times, most recently in "
            "{flood_year}, and a flood wall was completed along the riverside path in "
            "{wall_year}.",
            (
                "The climate is mild and fairly wet, with most rain falling between October and "
                "January. Frost is common in the valley bottom on clear winter nights.",
                "Winters are cool and damp and summers mild; fog often lies in the valley on "
                "autumn mornings while the surrounding hills stand in sunshine.",
            ),
            "Woodland covers much of the surrounding parish, and the old oaks of {wood} are "
            "protected as a nature reserve.",
        ],
    ),
    (
        "Economy",
        [
            "The largest employers today are {employer}, which makes {product2}, and the "
            "district hospital.",
            "Farming remains important in the surrounding parishes, chiefly {farming}.",
            "The town is known for its {product}, and a cooperative of local producers sells "
            "under a shared label at markets across the region.",
            "Tourism has grown since the restoration of the old {landmark}, which now houses a "
            "museum and a café.",
            "A weekly market is held every {weekday} on the main street, and a farmers' market "
            "takes place on the first Saturday of each month.",
            "Many residents commute to {city}, and the population of working age has been "
            "stable for the last two decades.",
        ],
    ),
    (
        "Culture and landmarks",
        [
            "The parish church of St {saint} dates in part from the {church_century} century "
            "and has a tower that can be seen from most of the valley.",
            "Every {month} the town holds the {festival}, a weekend of music, stalls and a "
            "procession along the river.",
            "The {landmark} is the town's best-known building; it was restored by volunteers "
            "between {restore_start} and {restore_end}.",
            "A small museum on {street} tells the story of {old_industry} through tools, "
            "photographs and the recorded memories of former workers.",
            "The town has a public library, two primary schools and a secondary school, "
            "{school}, which serves much of the valley.",
            "The local football club, {town} United, plays at a ground beside the river and has "
            "a long rivalry with its neighbours from {neighbor}.",
        ],
    ),
    (
        "Transport",
        [
            (
                "{town} station is on the {line} line, with trains roughly every hour to {city} "
                "and the coast.",
                "The railway station closed in {rail_close}, and the nearest station is now at "
                "{neighbor}, {ndist} kilometres away.",
            ),
            "Bus services link the town with {city} and {neighbor}, and a cycle path follows "
            "the old railway line along the valley.",
            "The main road through the valley bypasses the town centre; the bypass opened in "
            "{bypass_year} and took most heavy traffic off the main street.",
        ],
    ),
]


def en_town(p: Pick, names: EnNames) -> str:
    s = names.place_slots()
    early = p.int(920, 1240)
    charter = early + p.int(40, 260)
    flood = p.int(2000, 2019)
    restore_start = p.int(1972, 2008)
    s.update(
        valley=p.one(["Upper " + s["river"], s["river"], "Fallow", "Greenmoor", "Hollin"]),
        dist=p.int(6, 48),
        dir=p.one(["north", "south", "east", "west", "north-east", "south-west"]),
        pop=f"{p.int(2100, 24800):,}",
        census=p.one([2001, 2011, 2021]),
        product=p.one(
            [
                "blue cheese",
                "cider",
                "hand-thrown pottery",
                "woollen blankets",
                "smoked trout",
                "willow baskets",
                "oatcakes",
                "apple brandy",
            ]
        ),
        product2=p.one(
            [
                "agricultural machinery",
                "medical dressings",
                "kitchen cabinets",
                "laboratory glassware",
                "bicycle parts",
                "animal feed",
            ]
        ),
        early_year=early,
        charter_year=charter,
        century=ORDINAL_CENTURY[p.int(15, 18)],
        church_century=ORDINAL_CENTURY[p.int(12, 15)],
        old_industry=p.one(
            [
                "the wool trade",
                "leather tanning",
                "lace making",
                "paper milling",
                "rope making",
                "the malting of barley",
            ]
        ),
        fire_year=p.int(1610, 1790),
        rail_year=p.int(1841, 1879),
        rail_close=p.int(1951, 1969),
        recent_decade=p.one([1980, 1990, 2000]),
        elev=p.int(30, 240),
        hill=p.one(["Hob Edge", "Cold Harbour Hill", "the Beacon", "Starling Down", "Gorse Rigg"]),
        hill_elev=p.int(260, 520),
        flood_year=flood,
        wall_year=flood + p.int(2, 5),
        wood=p.one(["Kingswood", "Hatherley Wood", "Old Park", "Blackthorn Copse"]),
        farming=p.one(
            [
                "dairy cattle and sheep",
                "barley and oilseed",
                "orchards and soft fruit",
                "beef cattle on the hill farms",
            ]
        ),
        landmark=p.one(
            ["corn exchange", "water mill", "market hall", "toll house", "maltings", "gaol"]
        ),
        saint=p.one(EN_SAINTS),
        festival=p.one(
            [
                "Lantern Festival",
                "River Fair",
                "Apple Day",
                "Midsummer Fair",
                "Wool Fair",
                "Folk Weekend",
            ]
        ),
        restore_start=restore_start,
        restore_end=restore_start + p.int(3, 9),
        line=p.one(["Valley", "Coast", "Westmere and Harrow", "Heart of Westmere"]),
        ndist=p.int(5, 19),
        bypass_year=p.int(1978, 2012),
    )
    trade = {
        "agricultural machinery": "Engineering",
        "medical dressings": "Medical",
        "kitchen cabinets": "Furniture",
        "laboratory glassware": "Scientific",
        "bicycle parts": "Cycles",
        "animal feed": "Feeds",
    }[s["product2"]]
    s["employer"] = f"{p.one(EN_CO_A)} {trade} {p.one(EN_CO_C)}"
    parts = [s["town"], fill(p.one(EN_TOWN_LEAD), s)]
    sections = p.subset(EN_TOWN_SECTIONS, 2, 5)
    for title, sentences in sections:
        parts.append(title + "\n" + para(fill_all(p.some(sentences, 2, 5), s)))
    return "\n\n".join(parts)


# ------------------------------------------------------------ short encyclopedia entries

EN_ENTRIES = [
    (
        "Sourdough",
        "Sourdough is bread leavened by a culture of wild yeasts and lactic acid bacteria rather "
        "than by commercial baker's yeast. The culture, usually called a starter, is a mixture "
        "of flour and water that is fed regularly so that the microorganisms stay active. The "
        "bacteria produce lactic and acetic acids, which give the bread its tangy flavour and "
        "help it keep longer. Because the culture works more slowly than packaged yeast, "
        "sourdough usually rises for many hours, and many bakers leave the shaped loaves to "
        "rest overnight in a cool place. Raising bread with a kept-back piece of old dough was "
        "the ordinary method for thousands of years before baker's yeast became widely sold.",
    ),
    (
        "Tide",
        "A tide is the regular rise and fall of the sea surface caused mainly by the "
        "gravitational pull of the Moon and, to a lesser degree, the Sun. Most coasts have two "
        "high tides and two low tides in a little more than a day, although some places have "
        "only one of each. When the Sun, Moon and Earth are roughly in line, at new and full "
        "moon, their effects combine to give spring tides with a large range. About a week "
        "later, when the Sun and Moon pull at right angles, the range is smaller and the tides "
        "are called neap tides. The shape of the coastline and the depth of the sea floor have "
        "a strong influence on local tides, which is why the range differs so much from one "
        "harbour to the next.",
    ),
    (
        "Abacus",
        "An abacus is a calculating tool made of a frame holding rods on which beads slide. "
        "Each rod stands for a place value, and the user moves beads towards a central bar to "
        "represent numbers and to add, subtract, multiply and divide. Counting boards and "
        "bead frames were used in many ancient civilisations. The Chinese suanpan usually has "
        "two beads above the bar and five below on each rod, while the Japanese soroban, which "
        "developed from it, has one bead above and four below. Skilled users calculate very "
        "quickly, and the abacus is still taught in some schools as a way of building mental "
        "arithmetic.",
    ),
    (
        "Lighthouse",
        "A lighthouse is a tower that carries a bright light to guide ships at night and warn "
        "them of rocks, shoals and harbour entrances. Each light has its own pattern of "
        "flashes, called its character, so that a navigator can tell one lighthouse from "
        "another. Early lights burned wood, coal or oil; later towers used large glass lenses "
        "that gather the light into a powerful beam, and most modern lights are electric and "
        "run automatically. Satellite navigation has reduced the importance of lighthouses, "
        "but they remain a reliable backup and many are still maintained.",
    ),
    (
        "Compost",
        "Compost is decomposed organic matter used to improve soil. It is made by piling up "
        "plant material such as vegetable peelings, grass cuttings and fallen leaves, and "
        "letting bacteria, fungi and small animals such as worms break it down. A good heap "
        "has a mixture of green, nitrogen-rich material and brown, carbon-rich material like "
        "straw or cardboard, is kept moist but not waterlogged, and is turned now and then to "
        "let in air. Finished compost is dark and crumbly and smells of earth. Dug into beds or "
        "spread on the surface, it improves the structure of the soil and helps it hold water.",
    ),
    (
        "Photosynthesis",
        "Photosynthesis is the process by which green plants, algae and some bacteria use the "
        "energy of light to make sugars from carbon dioxide and water. In plants it takes place "
        "mainly in the leaves, inside structures called chloroplasts that contain the green "
        "pigment chlorophyll. Oxygen is released as a by-product. The sugars made in "
        "photosynthesis supply the energy and building material that the plant needs to grow, "
        "and, directly or indirectly, they feed almost every other living thing on Earth.",
    ),
    (
        "Bicycle",
        "A bicycle is a two-wheeled vehicle driven by pedals and steered with handlebars. The "
        "safety bicycle of the 1880s, with two wheels of similar size and a chain driving the "
        "rear wheel, set the basic pattern that most bicycles still follow. Pneumatic tyres, "
        "introduced soon afterwards, made riding far more comfortable. Bicycles are used for "
        "transport, recreation, sport and delivery work, and they are among the most "
        "energy-efficient means of travel ever devised.",
    ),
    (
        "Glacier",
        "A glacier is a large, slowly moving mass of ice formed where more snow falls each year "
        "than melts. Over time the snow is compressed into dense ice, which flows downhill under "
        "its own weight. Glaciers carve deep U-shaped valleys, carry rocks over long distances "
        "and leave ridges of debris called moraines where they stop. Most of the world's fresh "
        "water is stored in glaciers and ice sheets, and many rivers depend on their meltwater "
        "in summer.",
    ),
    (
        "Honey bee",
        "Honey bees are social insects that live in colonies of many thousands of workers, a "
        "single queen and, in summer, a few hundred males called drones. Workers collect nectar "
        "and pollen from flowers, and turn the nectar into honey, which they store in wax combs "
        "as food for the winter. A worker that finds a good source of food can tell others "
        "where it is by a movement known as the waggle dance. By carrying pollen from flower to "
        "flower, bees pollinate many crops and wild plants.",
    ),
    (
        "Movable type",
        "Movable type is a printing system in which each character is cast or carved as a "
        "separate piece that can be arranged into lines, printed, and then reused. The earliest "
        "known movable type was made of baked clay by Bi Sheng in China in the eleventh "
        "century, as described by the scholar Shen Kuo. Metal type was later used in Korea. In "
        "Europe, Johannes Gutenberg developed a system of metal type, oil-based ink and a "
        "press in the middle of the fifteenth century, which made books far cheaper and helped "
        "spread learning across the continent.",
    ),
    (
        "Volcano",
        "A volcano is an opening in the Earth's crust through which molten rock, ash and gases "
        "escape. Molten rock below the surface is called magma; once it erupts it is called "
        "lava. Some volcanoes erupt gently, with rivers of runny lava, while others explode "
        "violently because their magma is thick and full of gas. Most volcanoes lie along the "
        "boundaries of the plates that make up the Earth's surface, especially around the "
        "Pacific Ocean. Volcanic soils are often very fertile, which is one reason people farm "
        "on their slopes despite the danger.",
    ),
    (
        "Tea",
        "Tea is a drink made by pouring hot water over the cured leaves of the tea plant, "
        "Camellia sinensis. The plant is native to East Asia, and tea drinking has a very long "
        "history in China before it spread to Japan, Central Asia and, from the seventeenth "
        "century, to Europe. Green, white, oolong and black teas all come from the same plant; "
        "they differ in how the leaves are processed, especially in how much they are allowed "
        "to oxidise. After water, tea is one of the most widely consumed drinks in the world.",
    ),
    (
        "Rainbow",
        "A rainbow is an arc of colours that appears in the sky when sunlight shines on falling "
        "drops of rain. Each drop bends the light as it enters, reflects it from the back of "
        "the drop and bends it again as it leaves, separating white light into its colours. An "
        "observer sees a rainbow with the Sun behind them, and red appears on the outside of "
        "the arc and violet on the inside. A fainter second rainbow is sometimes visible "
        "outside the first, with its colours in reverse order.",
    ),
    (
        "Windmill",
        "A windmill is a structure that uses sails or blades turned by the wind to do work, "
        "traditionally grinding grain into flour or pumping water. In the flat, low-lying "
        "Netherlands, thousands of windmills drained land for farming. A post mill turns its "
        "whole body to face the wind, while a tower mill turns only its cap. Modern wind "
        "turbines, which generate electricity, are descendants of the windmill, though their "
        "design is very different.",
    ),
    (
        "Coral reef",
        "A coral reef is an underwater structure built over long periods by colonies of tiny "
        "animals called coral polyps, which produce hard skeletons of calcium carbonate. Most "
        "reef-building corals live in warm, clear, shallow tropical seas and depend on algae "
        "living inside their tissues for food. Reefs cover a very small part of the ocean floor "
        "but shelter a large share of marine species. Rising sea temperatures can cause corals "
        "to expel their algae and turn white, an event known as bleaching.",
    ),
    (
        "Leap year",
        "A leap year is a year with an extra day, added to keep the calendar in step with the "
        "seasons. The Earth takes about 365.24 days to go round the Sun, so a calendar of 365 "
        "days slowly drifts. In the Gregorian calendar, February has 29 days in every year "
        "divisible by four, except years divisible by 100, which are leap years only if they "
        "are also divisible by 400. Thus 2000 was a leap year but 1900 was not.",
    ),
    (
        "Barometer",
        "A barometer is an instrument that measures the pressure of the atmosphere. The "
        "mercury barometer, devised by Evangelista Torricelli in the 1640s, uses a glass tube "
        "of mercury whose height rises and falls with the air pressure. The aneroid barometer "
        "uses a small sealed metal box that expands and contracts instead. Falling pressure "
        "often signals unsettled weather, and rising pressure fair weather, which is why "
        "barometers have long been used in forecasting.",
    ),
    (
        "Silk",
        "Silk is a natural fibre produced by the larvae of certain moths, most famously the "
        "domesticated silkworm, which feeds on mulberry leaves. The silkworm spins a cocoon "
        "from a single long thread, which can be unwound and spun into yarn. Silk making began "
        "in China several thousand years ago, and the fabric was traded across Asia along the "
        "routes later known as the Silk Road. Silk is strong, light and smooth, and it takes "
        "dyes well.",
    ),
    (
        "Prime number",
        "A prime number is a whole number greater than one that can be divided exactly only by "
        "one and by itself. The first primes are 2, 3, 5, 7, 11 and 13. Every whole number "
        "greater than one is either prime or can be written as a product of primes in exactly "
        "one way, apart from the order of the factors. Euclid proved more than two thousand "
        "years ago that there are infinitely many primes. Large primes are used today in the "
        "cryptography that protects online payments.",
    ),
    (
        "Water cycle",
        "The water cycle is the continuous movement of water between the oceans, the air and "
        "the land. Heat from the Sun evaporates water from seas, lakes and plants; the vapour "
        "rises, cools and condenses into clouds; and the water returns to the surface as rain "
        "or snow. Some of it flows back to the sea in rivers, some soaks into the ground to "
        "become groundwater, and some is stored for long periods in ice. The cycle moves heat "
        "around the planet as well as water.",
    ),
    (
        "Vaccination",
        "Vaccination is the giving of a vaccine to help the immune system learn to recognise "
        "and fight a particular infection. A vaccine contains a harmless form or part of the "
        "germ, or instructions for making such a part, so that the body can build protection "
        "without suffering the disease. In 1796 Edward Jenner showed that material from cowpox "
        "could protect against smallpox, and smallpox was declared eradicated in 1980 after a "
        "worldwide vaccination campaign.",
    ),
    (
        "Mercator projection",
        "The Mercator projection is a way of drawing the curved surface of the Earth on a flat "
        "map, presented by the Flemish mapmaker Gerardus Mercator in 1569. Any straight line on "
        "the map is a line of constant compass bearing, which made it very useful for sailors. "
        "The price is distortion of area: regions far from the equator appear much larger than "
        "they are, so that Greenland looks about as large as Africa although Africa is roughly "
        "fourteen times bigger.",
    ),
    (
        "Chess",
        "Chess is a board game for two players played on a square board of sixty-four squares. "
        "Each player begins with sixteen pieces: a king, a queen, two rooks, two bishops, two "
        "knights and eight pawns. The aim is to checkmate the opponent's king, placing it under "
        "attack with no way to escape. The game developed from earlier Indian and Persian games "
        "and reached roughly its modern rules in southern Europe in the late fifteenth century.",
    ),
]


def en_entry(p: Pick, title: str, body: str) -> str:
    style = p.int(0, 2)
    if style == 0:
        return f"{title}\n\n{body}"
    if style == 1:
        return body
    return f"{title}\n{body}\n\nSee also: " + ", ".join(
        t for t, _ in p.subset(EN_ENTRIES, 2, 3) if t != title
    )


# ---------------------------------------------------------------- clinical-style notes

EN_HEALTH = [
    {
        "title": "Staying hydrated in hot weather",
        "team": "primary care nursing team",
        "intro": (
            "Hot weather makes the body lose water through sweat, and most people need to drink "
            "more than usual to make up for it. This note explains how to tell whether you are "
            "drinking enough and who needs extra care.",
            "During a heatwave, dehydration can develop over a few hours, especially in people "
            "who are already unwell. The advice below applies to most adults.",
        ),
        "points": [
            "Drink water regularly through the day rather than waiting until you feel thirsty.",
            "Pale yellow urine is a simple sign that you are drinking enough; dark urine "
            "suggests you need more fluid.",
            "Older adults, young children and people who work outdoors are at greater risk and "
            "may need reminders to drink.",
            "Limit alcohol and very sugary drinks, which do little to replace lost fluid.",
            "If you take water tablets (diuretics) or have heart or kidney disease, ask your "
            "clinician how much to drink, because the usual advice may not apply to you.",
            "Plan outdoor activity for the cooler parts of the day and rest in the shade when "
            "you can.",
            "Keep rooms cool by closing curtains on windows that face the sun.",
        ],
        "warning": "Get urgent help if someone becomes confused, faints, stops sweating despite "
        "the heat or has a very high temperature. These can be signs of heatstroke, which is "
        "an emergency.",
    },
    {
        "title": "Hand hygiene at home",
        "team": "infection prevention team",
        "intro": (
            "Clean hands are one of the most effective ways to stop the spread of common "
            "infections such as colds and stomach bugs.",
            "Many infections spread when we touch our eyes, nose or mouth with unwashed hands. "
            "Washing at the right moments greatly reduces that risk.",
        ),
        "points": [
            "Wash your hands with soap and water for at least 20 seconds, covering the backs of "
            "the hands, between the fingers and under the nails.",
            "Always wash after using the toilet, after changing a nappy and before preparing or "
            "eating food.",
            "Dry your hands thoroughly, preferably with a clean towel that is not shared.",
            "Alcohol hand gel is useful when soap and water are not available, but it does not "
            "work well on visibly dirty hands.",
            "Cover coughs and sneezes with a tissue, throw the tissue away and then clean your "
            "hands.",
            "Keep nails short and remove rings when washing, because germs collect underneath.",
        ],
        "warning": "If someone in your home has diarrhoea or vomiting, wash hands with soap and "
        "water rather than gel, and contact your practice if symptoms last more than a few "
        "days or if they cannot keep fluids down.",
    },
    {
        "title": "Storing and disposing of medicines safely",
        "team": "pharmacy team",
        "intro": (
            "Medicines work best and are safest when they are stored correctly and disposed of "
            "properly once they are no longer needed.",
            "Each year some children are harmed by medicines found at home. A few simple habits "
            "prevent most of these accidents.",
        ),
        "points": [
            "Keep medicines in their original packaging with the leaflet, so that you always "
            "have the dose and the expiry date to hand.",
            "Store medicines out of the sight and reach of children, ideally in a locked cupboard.",
            "Most tablets should be kept somewhere cool and dry; a bathroom cabinet is often too "
            "damp.",
            "Some medicines, such as certain insulins and eye drops, need a fridge once opened; "
            "check the label.",
            "Do not share prescription medicines, even with someone who seems to have the same "
            "problem.",
            "Take unwanted or out-of-date medicines back to a pharmacy rather than flushing them "
            "away or putting them in household rubbish.",
        ],
        "warning": "If a child may have swallowed a medicine that was not meant for them, seek "
        "medical advice at once, even if they seem well, and take the packet with you.",
    },
    {
        "title": "First aid for minor burns",
        "team": "urgent care team",
        "intro": (
            "Most small burns from hot drinks, pans or irons can be treated at home, as long as "
            "the right first aid is given quickly.",
            "The first few minutes after a burn make a real difference to how well it heals.",
        ),
        "points": [
            "Cool the burn under cool or lukewarm running water for 20 minutes as soon as "
            "possible.",
            "Remove rings, watches and clothing near the burn unless they are stuck to the skin.",
            "Do not use ice, iced water, butter or creams while the burn is being cooled.",
            "After cooling, cover the burn loosely with cling film or a clean plastic bag to "
            "protect it.",
            "Keep the person warm while cooling the burn, especially a small child.",
            "Do not burst any blisters that form.",
            "Simple pain relief can help; ask a pharmacist which is suitable.",
        ],
        "warning": "Seek medical care for burns larger than the casualty's palm, burns to the "
        "face, hands, feet or genitals, chemical or electrical burns, burns that look white or "
        "charred, and any burn in a baby or young child.",
    },
    {
        "title": "Sleeping well: advice for adults",
        "team": "community health team",
        "intro": (
            "Most adults need between seven and nine hours of sleep a night. Short spells of "
            "poor sleep are common and usually improve with a few changes to daily habits.",
            "Trouble sleeping is very common, especially at times of stress. The habits below "
            "help many people sleep better within a few weeks.",
        ),
        "points": [
            "Go to bed and get up at roughly the same time every day, including at weekends.",
            "Keep the bedroom dark, quiet and cool, and use it mainly for sleep.",
            "Avoid caffeine in the afternoon and evening, and avoid heavy meals late at night.",
            "Put screens away for the last hour before bed.",
            "Regular daytime exercise helps, but try not to exercise hard just before sleeping.",
            "If you cannot sleep after about twenty minutes, get up, do something calm in dim "
            "light and return to bed when you feel sleepy.",
        ],
        "warning": "Talk to your practice if poor sleep lasts for more than a few weeks, if you "
        "feel very sleepy during the day, or if a partner notices that you stop breathing or "
        "snore heavily during sleep.",
    },
    {
        "title": "Low back pain: the first few weeks",
        "team": "physiotherapy team",
        "intro": (
            "Back pain is very common and usually gets better on its own within a few weeks. It "
            "rarely means serious damage to the spine.",
            "A sudden bout of low back pain can be frightening, but most people recover well, "
            "and staying active helps recovery.",
        ),
        "points": [
            "Keep moving and carry on with daily activities as far as you can; long bed rest "
            "tends to slow recovery.",
            "Short walks several times a day are a good way to start.",
            "A hot water bottle or heat pack may ease stiffness.",
            "A pharmacist can advise on simple painkillers that are suitable for you.",
            "Change position often if you sit for long periods.",
            "Gentle stretching and exercise help, and a physiotherapist can suggest a programme.",
        ],
        "warning": "Get urgent help if back pain comes with numbness around the buttocks or "
        "genitals, new difficulty passing urine or controlling the bowels, weakness in the "
        "legs, fever, or if it follows a serious fall or accident.",
    },
    {
        "title": "Preventing falls in later life",
        "team": "community health team",
        "intro": (
            "Falls are a leading cause of injury in older people, but many can be prevented.",
            "One in three people over sixty-five has a fall each year. Small changes at home "
            "and in daily routine reduce the risk considerably.",
        ),
        "points": [
            "Remove loose rugs and trailing cables, and keep stairs and hallways clear.",
            "Use night lights so that you can see your way to the bathroom.",
            "Wear well-fitting shoes or slippers with a firm grip.",
            "Exercises that improve strength and balance, such as tai chi, reduce falls.",
            "Ask for a review of your medicines if any of them make you drowsy or dizzy.",
            "Have your eyes tested regularly.",
            "Get up slowly from bed or a chair, especially at night.",
        ],
        "warning": "If you have fallen more than once in a year, or are worried about falling, "
        "ask your practice about a falls assessment.",
    },
    {
        "title": "Seasonal flu vaccination",
        "team": "practice nursing team",
        "intro": (
            "Flu is more than a bad cold. For some people it can lead to serious illness, and "
            "the yearly vaccine is the best protection.",
            "The flu vaccine is offered every autumn because the viruses change from year to "
            "year and protection fades over time.",
        ),
        "points": [
            "The vaccine is usually offered to older adults, pregnant women, people with "
            "long-term conditions and some children.",
            "It is best to be vaccinated in the autumn, before flu starts to circulate widely.",
            "The vaccine cannot give you flu. A sore arm or a mild temperature for a day or two "
            "is common.",
            "Tell the nurse if you have had a serious reaction to a vaccine before.",
            "Even after vaccination, washing hands and covering coughs help protect others.",
        ],
        "warning": "Contact your practice if you have flu symptoms and are in a high-risk group, "
        "or seek urgent help if you become short of breath or have chest pain.",
    },
    {
        "title": "Looking after a child with a fever",
        "team": "paediatric nursing team",
        "intro": (
            "Fever is common in children and is usually the body's normal response to an "
            "infection such as a cold.",
            "A raised temperature in a child is worrying for parents, but most fevers are "
            "caused by minor infections that clear up on their own.",
        ),
        "points": [
            "Offer regular drinks, and breastfeed or bottle-feed babies as usual.",
            "Dress the child in light clothing; do not bundle them up or try to cool them with "
            "cold water.",
            "Medicines for fever can make a child more comfortable; check the dose for their "
            "age and do not give two medicines at once unless advised.",
            "Check on the child during the night.",
            "Keep them off nursery or school while they have a fever.",
        ],
        "warning": "Get medical help urgently if a baby under three months has a temperature of "
        "38 °C or more, if the child has a rash that does not fade when a glass is pressed "
        "against it, is unusually drowsy or hard to wake, has difficulty breathing, or shows "
        "signs of dehydration such as a dry mouth and few wet nappies.",
    },
    {
        "title": "Managing mild hay fever",
        "team": "pharmacy team",
        "intro": (
            "Hay fever is an allergy to pollen. It causes sneezing, a runny or blocked nose and "
            "itchy eyes, and is usually worst in spring and summer.",
            "Hay fever cannot be cured, but most people can control their symptoms well.",
        ),
        "points": [
            "Check the pollen forecast and keep windows closed on high-pollen days.",
            "Shower and change clothes after spending time outdoors.",
            "Wraparound sunglasses help keep pollen out of the eyes.",
            "Antihistamine tablets and steroid nasal sprays are available from pharmacies; ask "
            "which is suitable for you.",
            "Start a nasal spray a couple of weeks before your usual season begins.",
            "Avoid drying washing outdoors when the pollen count is high.",
        ],
        "warning": "See your practice if treatments from the pharmacy do not help, or seek urgent "
        "help for wheezing, chest tightness or shortness of breath.",
    },
]
EN_CLINICS = [
    "Riverside Health Centre",
    "Market Street Surgery",
    "Valley Medical Practice",
    "Westmere Community Clinic",
    "Orchard Lane Family Practice",
    "St Oswald's Health Centre",
]
EN_DISCLAIMERS = [
    "This leaflet gives general information. It does not replace advice from a doctor, nurse "
    "or pharmacist who knows your situation.",
    "This note is for general information only. If you are unsure, ask a member of the "
    "practice team.",
    "Please ask if you would like this information in another language or in large print.",
]


def en_health(p: Pick, topic: dict) -> str:
    year = p.int(2019, 2024)
    head = [
        topic["title"],
        p.one(["Patient information", "Information for patients and carers", "Health advice"])
        + f" - {p.one(EN_CLINICS)}",
        f"Reviewed {p.one(MONTHS)} {year} by the {topic['team']}. "
        f"Next review due {p.one(MONTHS)} {year + p.int(2, 3)}.",
    ]
    bullet = p.one(["- ", "* ", "• "])
    points = p.some(topic["points"], 4, 7)
    body = [
        "\n".join(head),
        p.one(topic["intro"]),
        p.one(["What you can do", "Practical advice", "What helps"])
        + "\n"
        + "\n".join(bullet + x for x in points),
        p.one(["When to get help", "When to seek advice", "Warning signs"])
        + "\n"
        + topic["warning"],
        p.one(EN_DISCLAIMERS),
    ]
    return "\n\n".join(body)


# ------------------------------------------------------------------ court summaries

EN_COURTS = [
    "High Court of Westmere, Commercial Division",
    "Westmere Court of Appeal",
    "County Court at Harrowgate",
    "Southmoor District Court",
    "Northwold Circuit Court, Business List",
]
EN_CASES = [
    {
        "kind": "sale of goods",
        "facts": (
            "{p}, a {p_trade}, ordered {qty} {goods} from {d} under a written contract dated "
            "{date1}. The contract required delivery by {date2}, but the goods arrived {delay} "
            "days late, after the busy season had ended. {p} claimed {amount} for lost sales.",
            "Under a purchase order of {date1}, {d} agreed to supply {qty} {goods} to {p}, a "
            "{p_trade}, with delivery promised for {date2}. Delivery took place {delay} days "
            "after that date. {p} sued for {amount}, saying that it had to turn customers away "
            "in the meantime.",
        ),
        "issue": "The main question was whether a clause in {d}'s standard terms, which "
        "excluded liability for 'any loss of profit howsoever arising', applied to loss caused "
        "by late delivery.",
        "outcomes": [
            (
                "The court held that the clause was clearly worded and had been brought to {p}'s "
                "attention, because the same terms had been used in {prior} earlier orders "
                "between the parties.",
                "The claim for lost profit therefore failed, although {p} recovered {small} for "
                "the extra cost of storing the late goods. Each side was ordered to bear its "
                "own costs.",
            ),
            (
                "The court held that the clause did not cover delay caused by {d}'s own failure "
                "to place orders with its suppliers in time. Exclusion clauses are read "
                "narrowly, and clear words would be needed to exclude liability for a "
                "party's own default.",
                "Judgment was entered for {p} in the sum of {award}, with interest and costs.",
            ),
        ],
    },
    {
        "kind": "commercial lease",
        "facts": (
            "{p} let a ground-floor shop on {street} to {d} on a ten-year lease. In {year} {d} "
            "served notice to end the lease early under a break clause, and moved out. {p} "
            "argued that the notice was invalid because {d} had not paid {arrears} of service "
            "charges by the break date.",
            "{d} occupied warehouse premises owned by {p} under a lease containing a break "
            "clause conditional on 'all sums due' being paid. {d} exercised the break in {year}. "
            "{p} said that an unpaid service charge of {arrears} meant the condition was not "
            "met and the lease continued.",
        ),
        "issue": "The court had to decide whether the disputed service charge was a sum 'due' "
        "on the break date, given that the landlord had not sent a valid demand for it.",
        "outcomes": [
            (
                "The court found that, under the terms of the lease, service charges became due "
                "only fourteen days after a written demand. No valid demand had been served "
                "before the break date, so nothing was then due.",
                "The break was effective and the lease ended on the break date. {p}'s claim for "
                "rent after that date, about {award}, was dismissed.",
            ),
            (
                "The court found that a demand had been properly served in good time and that "
                "the condition required strict compliance, however small the shortfall.",
                "The break was therefore ineffective, and {d} remained liable for rent until the "
                "end of the term, subject to {p}'s duty to try to re-let the premises.",
            ),
        ],
    },
    {
        "kind": "employment",
        "facts": (
            "{pp} worked for {d} as a {job} for {years} years. In {year} {pp} was dismissed "
            "without notice after a dispute about overtime records. {pp} claimed wrongful "
            "dismissal and {amount} in unpaid notice pay.",
            "{pp}, a {job} employed by {d} since {start_year}, was dismissed in {year} for "
            "alleged gross misconduct, namely the misuse of a company fuel card. {pp} denied "
            "the allegation and brought a claim for wrongful dismissal.",
        ),
        "issue": "The question was whether the employer had shown conduct serious enough to "
        "justify dismissal without notice, and whether a fair procedure had been followed.",
        "outcomes": [
            (
                "The court found that the investigation had been brief, that {pp} had not been "
                "shown the key documents before the disciplinary meeting, and that the "
                "evidence did not establish dishonesty.",
                "The claim succeeded. {d} was ordered to pay {award}, representing the notice "
                "period and accrued holiday pay.",
            ),
            (
                "The court accepted the employer's evidence, including records that {pp} had "
                "been given an opportunity to explain but had not done so, and found that the "
                "conduct amounted to a serious breach of trust.",
                "The claim was dismissed. The court noted that the employer's procedure, though "
                "not perfect, was fair overall.",
            ),
        ],
    },
    {
        "kind": "building defects",
        "facts": (
            "{d} built a two-storey extension for {pp} in {year} for a fixed price of {price}. "
            "Within a year water began to come through the flat roof, damaging plaster and a "
            "new kitchen. {pp} claimed {amount} for repairs.",
            "{pp} engaged {d} to replace the roof of a farmhouse. Shortly after the work was "
            "finished in {year}, leaks appeared around the chimney and along one valley gutter. "
            "{pp} sought {amount} for remedial work and damage to the interior.",
        ),
        "issue": "The dispute turned on whether the leaks were caused by defective workmanship or "
        "by a design chosen by {pp}'s own architect, for which {d} said it was not responsible.",
        "outcomes": [
            (
                "The expert evidence showed that the flashing had been fitted without the "
                "upstands required by the specification. That was a failure of workmanship, "
                "not of design.",
                "{d} was ordered to pay {award}. A smaller claim for loss of use of the kitchen "
                "was rejected for lack of evidence.",
            ),
            (
                "The court preferred the evidence of {d}'s expert that the roof had been built "
                "as drawn, and that the drawings themselves specified too shallow a fall for "
                "the chosen membrane.",
                "The claim against {d} failed. The court observed that any claim would lie "
                "against the designer, who was not a party to these proceedings.",
            ),
        ],
    },
    {
        "kind": "copyright",
        "facts": (
            "{pp}, a freelance photographer, found that {d} had used {photos} of {pp}'s "
            "landscape photographs on its website and in a printed brochure without a licence. "
            "{pp} claimed damages of {amount}.",
            "{d} published {photos} photographs taken by {pp} in an online guide to walking "
            "routes. {d} said it had found the images on a free wallpaper site and believed "
            "they could be used freely.",
        ),
        "issue": "The court considered whether {d} had infringed copyright and, if so, how "
        "damages should be measured.",
        "outcomes": [
            (
                "Copyright subsisted in the photographs and belonged to {pp}. Believing that "
                "an image is free to use is no defence to infringement, although it may be "
                "relevant to additional damages.",
                "Damages were assessed at {award}, based on the licence fees that {pp} would "
                "normally have charged. No additional damages were awarded.",
            ),
            (
                "The court found infringement and noted that {d} had continued to use the "
                "images for several months after receiving a letter asking it to stop.",
                "{pp} was awarded {award}, including additional damages for the flagrant "
                "continuation of the infringement, and an injunction was granted.",
            ),
        ],
    },
    {
        "kind": "nuisance",
        "facts": (
            "{pp} lives next door to premises where {d} runs a bakery. New ventilation fans "
            "installed in {year} run from four in the morning, and {pp} said the noise made "
            "sleep impossible. {pp} sought an injunction and damages.",
            "Residents led by {pp} complained that a {business} operated by {d} produced "
            "persistent low-frequency noise from refrigeration units, audible in nearby "
            "bedrooms at night.",
        ),
        "issue": "The question was whether the noise was an unreasonable interference with the "
        "use and enjoyment of the neighbouring land, taking account of the character of the "
        "area.",
        "outcomes": [
            (
                "Measurements by an independent acoustic consultant showed noise levels well "
                "above those recommended for bedrooms at night. The street is mainly "
                "residential, and the interference was substantial.",
                "An injunction was granted restricting use of the fans before 7 a.m. until "
                "acoustic enclosures are fitted, and {pp} was awarded {small} in damages.",
            ),
            (
                "The court found that, after the fans were fitted with silencers during the "
                "proceedings, the remaining noise was modest and typical of a mixed "
                "commercial street.",
                "The claim for an injunction was refused, but {pp} recovered {small} for the "
                "disturbance suffered before the silencers were installed.",
            ),
        ],
    },
    {
        "kind": "insurance",
        "facts": (
            "{pp}'s house suffered water damage from a pipe under the bathroom floor. {d}, "
            "the insurer, declined the claim, relying on an exclusion for damage caused by "
            "'gradual leakage'. {pp} sued for {amount} under the policy.",
            "{p} claimed under its commercial property policy with {d} after water escaped "
            "from a sprinkler pipe and damaged stock. {d} refused to pay, citing an exclusion "
            "for gradual seepage and a condition requiring the premises to be heated in winter.",
        ),
        "issue": "The court had to decide whether the damage was caused by a sudden escape of "
        "water, which the policy covered, or by gradual leakage, which it excluded.",
        "outcomes": [
            (
                "The evidence showed that the pipe joint had failed suddenly; the staining "
                "pattern was consistent with a single escape over a few days rather than "
                "seepage over months. The burden of proving the exclusion lay on the insurer.",
                "Judgment was given for the policyholder for {award}, together with interest.",
            ),
            (
                "The court accepted evidence that the joint had been weeping for many months, "
                "causing rot in the joists long before the floor gave way.",
                "The exclusion applied and the claim failed.",
            ),
        ],
    },
]
EN_CLAIM_RANGES = {
    "sale of goods": (18_000, 460_000),
    "commercial lease": (20_000, 300_000),
    "employment": (4_000, 60_000),
    "building defects": (8_000, 120_000),
    "copyright": (2_000, 40_000),
    "nuisance": (5_000, 50_000),
    "insurance": (5_000, 250_000),
}
EN_TRADES = [
    "garden centre",
    "bicycle shop",
    "toy retailer",
    "hardware store",
    "camping goods retailer",
    "florist",
]
EN_GOODS = [
    "patio heaters",
    "children's bicycles",
    "garden furniture sets",
    "inflatable kayaks",
    "wood-burning stoves",
    "ceiling fans",
]
EN_JOBS = [
    "warehouse supervisor",
    "delivery driver",
    "sales manager",
    "laboratory technician",
    "site foreman",
]


def money(p: Pick, lo: int, hi: int, sym: str = "£") -> str:
    v = p.int(lo, hi)
    v = v - v % (100 if v > 10_000 else 10)
    return f"{sym}{v:,}"


def en_case(p: Pick, names: EnNames) -> str:
    case = p.one(EN_CASES)
    year = p.int(2015, 2023)
    s = {
        "p": names.company(),
        "d": names.company(),
        "pp": names.person(),
        "p_trade": p.one(EN_TRADES),
        "goods": p.one(EN_GOODS),
        "qty": p.int(40, 900),
        "date1": f"{p.int(1, 28)} {p.one(MONTHS[:4])} {year}",
        "date2": f"{p.int(1, 28)} {p.one(MONTHS[4:6])} {year}",
        "delay": p.int(9, 61),
        "small": money(p, 800, 9_000),
        "prior": p.int(3, 14),
        "street": p.one(EN_STREETS),
        "year": year,
        "arrears": money(p, 90, 2_400),
        "job": p.one(EN_JOBS),
        "years": p.int(2, 19),
        "start_year": year - p.int(2, 19),
        "price": money(p, 40_000, 180_000),
        "photos": p.one(["four", "six", "eleven", "fourteen", "twenty-two"]),
        "business": p.one(["supermarket", "cold store", "brewery", "data centre"]),
    }
    lo, hi = EN_CLAIM_RANGES[case["kind"]]
    amount = p.int(lo, hi) // 100 * 100
    s["amount"] = f"£{amount:,}"
    s["award"] = f"£{amount * p.int(20, 95) // 10_000 * 100:,}"
    if case["kind"] == "nuisance":
        s["d"] = f"{p.one(EN_CO_A)} Foods {p.one(EN_CO_C)}"
    if case["kind"] in ("sale of goods", "commercial lease", "nuisance") and p.chance(0.4):
        s["d"] = names.person()
    template = p.one(case["facts"])
    facts = fill(template, s)
    party_a = s["pp"] if "{pp}" in template else s["p"]
    outcome = case["outcomes"][p.int(0, len(case["outcomes"]) - 1)]
    reasoning, result = fill(outcome[0], s), fill(outcome[1], s)
    decided = f"{p.int(1, 28)} {p.one(MONTHS)} {year + p.int(1, 2)}"
    court = p.one(EN_COURTS)
    caseno = f"{p.one(['HC', 'CA', 'CC', 'DC'])}-{year}-{p.int(100, 9999):04d}"
    all_labels = [
        ("Facts", "Issue", "Decision", "Result"),
        ("Background", "The question for the court", "Reasons", "Outcome"),
        ("The dispute", "Issue", "Holding and reasons", "Order"),
    ]
    labels = all_labels[p.int(0, len(all_labels) - 1)]
    issue = fill(case["issue"], s)
    head = f"{party_a} v {s['d']}\n{court}, case no. {caseno}, decided {decided}"
    blocks = [
        head,
        p.one(["Summary of the judgment", "Case summary", "Judgment summary"]),
        f"{labels[0]}. {facts}",
        f"{labels[1]}. {issue}",
        f"{labels[2]}. {reasoning}",
        f"{labels[3]}. {result}",
    ]
    if p.chance(0.35):
        blocks.append(
            p.one(
                [
                    "Comment. The decision is a reminder that the wording of standard terms "
                    "matters, and that courts will not stretch an exclusion beyond what the "
                    "words clearly say.",
                    "Comment. The judgment applies settled principles to the facts and is "
                    "unlikely to be appealed.",
                    "Comment. Permission to appeal was refused.",
                    "Comment. The parties were encouraged to settle the remaining questions of "
                    "costs by agreement.",
                ]
            )
        )
    return "\n\n".join(blocks)


# ------------------------------------------------------------------- filing paragraphs

EN_DRIVERS = [
    "higher sales volumes in the industrial segment and the full-year contribution of the "
    "acquisition completed in the prior year",
    "price increases implemented in the first quarter and strong demand from hospital customers",
    "growth in recurring subscription revenue, which now represents {sub}% of total revenue",
    "new contracts with regional retailers and the opening of a distribution centre in the "
    "south-east",
]
EN_DECLINE_DRIVERS = [
    "lower order volumes from our two largest customers and the exit from low-margin product lines",
    "weaker demand in the construction market and delays in customer projects",
    "reduced shipments while the main plant was upgraded during the third quarter",
]
EN_GM_UP = [
    "lower freight costs and a more favourable product mix",
    "efficiency gains at the main production site",
    "the full-year benefit of price increases",
]
EN_GM_DOWN = [
    "higher raw material and energy costs that were only partly passed on to customers",
    "start-up costs at the new facility",
    "a less favourable product mix and higher warranty costs",
]
EN_RISKS = [
    "We depend on a small number of suppliers for key components, and a disruption at any of "
    "them could delay shipments and reduce revenue.",
    "A significant part of our revenue comes from a limited number of customers; the loss of "
    "one of them could materially affect our results.",
    "Our operations are exposed to changes in energy prices, which we may not be able to pass "
    "on to customers in full or on time.",
    "We rely on information technology systems, and a cyber attack or system failure could "
    "disrupt operations and expose confidential data.",
    "Changes in interest rates affect the cost of our variable-rate borrowings.",
    "Our growth strategy includes acquisitions, which may not deliver the expected benefits "
    "and may divert management attention.",
    "We may be unable to attract and retain skilled engineers, which could slow product "
    "development.",
    "Fluctuations in exchange rates affect the reported value of sales made outside our home "
    "market.",
]
EN_FORWARD = [
    "This report contains forward-looking statements, which are based on current expectations "
    "and are subject to risks and uncertainties that could cause actual results to differ "
    "materially. We undertake no obligation to update these statements except as required by "
    "law.",
    "Statements in this section that are not historical facts, including statements about "
    "future revenue, margins and capital spending, are forward-looking. Words such as "
    "'expect', 'intend', 'plan' and 'believe' identify such statements. Readers should not "
    "place undue reliance on them.",
]


def en_filing(p: Pick, names: EnNames) -> str:
    company = names.company()
    year = p.int(2016, 2024)
    prev = p.int(40, 2400) + p.int(0, 9) / 10
    up = p.chance(0.7)
    change = p.int(2, 28) + p.int(0, 9) / 10
    rev = round(prev * (1 + change / 100) if up else prev * (1 - change / 100), 1)
    gm_prev = p.int(22, 58) + p.int(0, 9) / 10
    gm = round(gm_prev + (p.int(-35, 35) / 10), 1)
    ni = round(rev * p.int(2, 14) / 100, 1)
    shares = p.int(20, 400)
    s = {
        "company": company,
        "year": year,
        "prev_year": year - 1,
        "rev": f"{rev:,.1f}",
        "prev": f"{prev:,.1f}",
        "change": f"{change:.1f}",
        "gm": f"{gm:.1f}",
        "gm_prev": f"{gm_prev:.1f}",
        "gm_move": "increased" if gm > gm_prev else "decreased" if gm < gm_prev else "was flat",
        "ni": f"{ni:,.1f}",
        "eps": f"{ni / shares:.2f}",
        "cash": f"{rev * p.int(5, 30) / 100:,.1f}",
        "facility": f"{p.int(50, 400)}.0",
        "capex": f"{rev * p.int(2, 9) / 100:,.1f}",
        "employees": f"{p.int(180, 14000):,}",
        "sub": p.int(18, 64),
    }
    driver = fill(p.one(EN_DRIVERS if up else EN_DECLINE_DRIVERS), s)
    gm_reason = p.one(EN_GM_UP if gm >= gm_prev else EN_GM_DOWN)
    mdna = (
        f"Results of operations\nFor the fiscal year ended December 31, {year}, revenue was "
        f"${s['rev']} million, {'an increase' if up else 'a decrease'} of {s['change']}% from "
        f"${s['prev']} million in {s['prev_year']}. The {'increase' if up else 'decrease'} was "
        f"driven mainly by {driver}. Gross margin {s['gm_move']} to {s['gm']}% from "
        f"{s['gm_prev']}%, reflecting {gm_reason}. Net income was ${s['ni']} "
        f"million, or ${s['eps']} per diluted share."
    )
    liquidity = (
        f"Liquidity and capital resources\nAs of December 31, {year}, the Company had cash and "
        f"cash equivalents of ${s['cash']} million and "
        + p.one(
            [
                f"an undrawn revolving credit facility of ${s['facility']} million.",
                f"borrowings of ${s['facility']} million under its term loan, which matures in "
                f"{year + p.int(2, 6)}.",
                "no outstanding borrowings.",
            ]
        )
        + f" Capital expenditures were ${s['capex']} million, mainly for "
        + p.one(
            [
                "new production equipment",
                "the expansion of our warehouse capacity",
                "information technology and software",
                "energy-efficiency upgrades at our plants",
            ]
        )
        + ". We believe that cash from operations and available credit will be sufficient to "
        "fund our needs for at least the next twelve months."
    )
    risks = "Risk factors\n" + "\n\n".join(p.some(EN_RISKS, 2, 4))
    people = (
        f"Human capital\nAt year end the Company employed approximately {s['employees']} "
        "people, "
        + p.one(
            [
                "most of them in manufacturing and distribution.",
                "of whom about a third work outside our home market.",
                "and voluntary turnover was below the industry average.",
            ]
        )
        + " "
        + p.one(
            [
                "We invest in training and apprenticeships and track safety incidents monthly.",
                "Our employee survey had a response rate of over eighty percent this year.",
                "Recordable safety incidents fell for the third consecutive year.",
            ]
        )
    )
    legal = "Legal proceedings\n" + p.one(
        [
            "From time to time we are involved in claims arising in the ordinary course of "
            "business. We do not believe that any pending matter will have a material adverse "
            "effect on our financial position.",
            "In the third quarter a former distributor filed a claim alleging breach of "
            "contract. We believe the claim is without merit and intend to defend it "
            "vigorously.",
        ]
    )
    sections = [mdna, liquidity, risks, people, legal]
    chosen = p.subset(sections, 2, 4)
    if mdna not in chosen and p.chance(0.6):
        chosen.insert(0, mdna)
    title = f"{company}\nAnnual Report {year} - " + p.one(
        ["Management's discussion and analysis", "Excerpts", "Form 10-K excerpts"]
    )
    tail = [p.one(EN_FORWARD)] if p.chance(0.5) else []
    return "\n\n".join([title, *chosen, *tail])


# -------------------------------------------------------------------------- news

EN_NEWS = [
    {
        "headline": (
            "{town} library reopens after {months}-month renovation",
            "Library doors open again in {town}",
        ),
        "body": [
            "The public library in {town} reopened on {weekday} after a {months}-month "
            "renovation that added a children's reading room, new lighting and step-free "
            "access to the upper floor.",
            "The work cost about {money} and was paid for by the county council with help from "
            "a local fundraising campaign that raised {money2}.",
            (
                "'We wanted a building that feels welcoming the moment you walk in,' said {name}, "
                "who has managed the library for {years} years. 'People have been asking every "
                "week when we would open again.'",
                "{name}, the branch librarian, said the busiest corner on the first morning was "
                "the new local history shelf. 'People want to know about the place they live,' "
                "the librarian said.",
            ),
            "During the closure, a temporary service ran from the community hall, lending "
            "around {loans} books a month.",
            "Opening hours have been extended to {close_hour} p.m. on weekdays, and a homework "
            "club will meet on Tuesday and Thursday afternoons.",
            "Visitors on the first day were greeted by a brass band from {school}, and the first "
            "book borrowed was, fittingly, a guide to local walks.",
            "Free computer sessions for older residents will start next month; places can be "
            "booked at the front desk.",
        ],
    },
    {
        "headline": (
            "{river} bridge to close for {weeks} weeks of repairs",
            "Repairs to close {town}'s old bridge",
        ),
        "body": [
            "The stone bridge that carries the main road over the {river} at {town} will close "
            "to traffic from {date} for {weeks} weeks while engineers repair its arches.",
            "An inspection last winter found that floodwater had washed mortar out of the "
            "foundations of two of the five arches, and the county's highways team said the "
            "work could not wait another year.",
            "A signed diversion via {neighbor} will add about {extra} minutes to journeys "
            "between {town} and {city}.",
            "Pedestrians and cyclists will still be able to cross using a temporary walkway on "
            "the downstream side.",
            (
                "'We know this will be inconvenient, especially for businesses on the east bank,' "
                "said {name}, the council's head of highways. 'The alternative is a much longer "
                "closure if the arches are left to deteriorate.'",
                "{name}, who runs a café beside the bridge, said the closure would cost "
                "passing trade but that the work was clearly needed.",
            ),
            "The bridge was built in {bridge_year} and is a listed structure, so the repairs "
            "must use lime mortar and matching stone.",
            "Shopkeepers on {street} have asked the council for extra signs to make it clear "
            "that they remain open during the works.",
        ],
    },
    {
        "headline": (
            "{school} pupils win regional robotics contest",
            "Robot builders from {town} head for national final",
        ),
        "body": [
            "Pupils from {school} took first place at the regional schools' robotics "
            "competition on {weekday}, beating {teams} other teams.",
            "Their robot, built over {months} months in an after-school club, had to sort "
            "coloured blocks, climb a ramp and return to its starting square within three "
            "minutes.",
            "'The hardest part was the ramp,' said {student}, aged {age}. 'We rebuilt the "
            "wheels four times.'",
            "The team's teacher, {name}, said the club started with six pupils and now has more "
            "than thirty.",
            "The winners will go on to the national final in {month}, and the school is raising "
            "money to cover travel costs.",
            "Judges praised the team's notebook, which recorded every design change and the "
            "reasons for it.",
        ],
    },
    {
        "headline": (
            "Farmers' market returns to {town}",
            "{stalls} stalls expected as {town} market season opens",
        ),
        "body": [
            "The {town} farmers' market returns to the market square this {weekday}, with "
            "{stalls} stalls selling vegetables, cheese, bread, honey and plants.",
            "The market, run by volunteers, started {years} years ago with just eight stalls and "
            "now draws visitors from across the valley.",
            "All traders must grow, rear or make what they sell within {radius} kilometres of "
            "the town.",
            (
                "'Customers like being able to ask the person who grew the food how it was "
                "grown,' said {name}, who sells apples and juice from an orchard near "
                "{neighbor}.",
                "{name}, who bakes rye bread in a converted barn outside {neighbor}, said the "
                "market had made it possible to give up an office job and bake full time.",
            ),
            "New this year is a repair table where volunteers will mend small electrical items "
            "and sharpen garden tools free of charge.",
            "The market runs from 9 a.m. to 1 p.m. Parking is available at the leisure centre, "
            "and the number {bus} bus stops nearby.",
        ],
    },
    {
        "headline": (
            "Clean-up under way after storm floods {town} streets",
            "{town} counts the cost of weekend storm",
        ),
        "body": [
            "Residents of {town} spent the weekend clearing fallen branches and mud after a "
            "storm brought {rain} millimetres of rain in under {hours} hours.",
            "The {river} rose quickly on {weekday} night and water entered about {houses} homes "
            "on the low-lying streets near the old mill.",
            "No one was seriously hurt, but firefighters rescued two people from a car that had "
            "stalled in floodwater on the road to {neighbor}.",
            "The community hall opened as a rest centre overnight, offering hot drinks and dry "
            "clothes to those who had to leave their homes.",
            "'Neighbours turned up with shovels before we had even asked,' said {name}, whose "
            "ground floor was flooded to knee height.",
            "The council has asked residents to report blocked drains and damaged footpaths, "
            "and skips for ruined furniture will be placed on {street} until the end of the "
            "month.",
            "Forecasters expect drier weather for the rest of the week.",
        ],
    },
    {
        "headline": (
            "New bus route to link {town} with hospital",
            "Service {bus} to start running in {month}",
        ),
        "body": [
            "A new bus route linking {town} with the hospital and the railway station in {city} "
            "will start running on {date}.",
            "The number {bus} service will run every {freq} minutes on weekdays and every hour on "
            "Saturdays, with the first bus leaving the market square at 6.15 a.m.",
            "The route was chosen after a survey in which more than {responses} residents said "
            "that getting to hospital appointments without a car was their biggest travel "
            "problem.",
            "Single fares will be capped at {fare}, and passengers over sixty can travel free "
            "after 9.30 a.m.",
            "'This is the first new route in the valley for more than ten years,' said {name} of "
            "the county transport team.",
            "Some residents of {neighbor} have asked why the route does not stop in their "
            "village; the council said it would review demand after six months.",
        ],
    },
    {
        "headline": (
            "Volunteers pull {bags} bags of litter from the {river}",
            "River clean-up at {town} draws record turnout",
        ),
        "body": [
            "More than {volunteers} volunteers spent {weekday} morning pulling litter from the "
            "banks of the {river} between {town} and {neighbor}.",
            "They collected {bags} bags of rubbish, along with {items}.",
            "The clean-up is organised twice a year by the {group}, which also monitors water "
            "quality at five points along the river.",
            "'Plastic bottles are the most common thing we find, but every year there is "
            "something surprising,' said {name}, the group's coordinator.",
            "Children from {school} helped to sort the collected waste so that as much as "
            "possible could be recycled.",
            "The group meets on the first Sunday of every month and welcomes new members; gloves "
            "and litter pickers are provided.",
        ],
    },
    {
        "headline": (
            "Plans for {homes} new homes on edge of {town} approved",
            "Councillors back {town} housing scheme",
        ),
        "body": [
            "Plans to build {homes} homes on farmland on the western edge of {town} were "
            "approved by the county planning committee on {weekday}.",
            "Of the new homes, {affordable} will be offered at below-market rents or for shared "
            "ownership, in line with the council's policy.",
            "The developer has agreed to pay towards a new classroom at {school} and to improve "
            "the junction with the main road.",
            (
                "'Young people who grew up here cannot afford to stay,' said {name}, a member of "
                "the committee. 'This scheme is not perfect, but it helps.'",
                "Objectors, led by {name}, argued that the site floods in wet winters and that "
                "the lane leading to it is too narrow for construction traffic.",
            ),
            "Work is expected to begin next spring and take about three years.",
            "A footpath across the site will be kept open and a strip of woodland planted "
            "along its northern boundary.",
        ],
    },
]
EN_ITEMS = [
    "two shopping trolleys, a bicycle frame and a traffic cone",
    "a garden bench, several tyres and a child's scooter",
    "a road sign, a fishing rod and a surprisingly intact umbrella",
    "a microwave oven, a mattress and dozens of drinks cans",
]
EN_GROUPS = [
    "Friends of the {river}",
    "{river} Rivers Trust",
    "{town} Angling Association",
    "{town} Green Spaces Group",
]


def en_news(p: Pick, names: EnNames) -> str:
    kind = p.one(EN_NEWS)
    s = names.place_slots()
    year = p.int(2017, 2024)
    s.update(
        months=p.int(4, 18),
        money=money(p, 120_000, 2_400_000),
        money2=money(p, 8_000, 90_000),
        years=p.int(3, 26),
        loans=f"{p.int(300, 2200):,}",
        close_hour=p.int(7, 8),
        weeks=p.int(6, 26),
        date=f"{p.int(1, 28)} {p.one(MONTHS)}",
        extra=p.int(8, 35),
        bridge_year=p.int(1620, 1840),
        teams=p.int(9, 41),
        student=names.person(),
        age=p.int(12, 17),
        stalls=p.int(18, 64),
        radius=p.int(20, 50),
        bus=p.int(11, 96),
        rain=p.int(45, 140),
        hours=p.int(6, 30),
        houses=p.int(12, 160),
        freq=p.one([15, 20, 30]),
        responses=f"{p.int(400, 2600):,}",
        fare=p.one(["£2", "£2.50", "£3"]),
        volunteers=p.int(30, 180),
        bags=p.int(40, 260),
        items=p.one(EN_ITEMS),
        homes=p.int(40, 320),
        year=year,
    )
    s["affordable"] = int(s["homes"]) * p.int(20, 40) // 100
    s["group"] = fill(p.one(EN_GROUPS), s)
    headline = fill(p.one(kind["headline"]), s)
    sentences = fill_all(p.some(kind["body"], 4, 7), s)
    paragraphs = []
    while sentences:
        n = p.int(1, 2)
        paragraphs.append(" ".join(sentences[:n]))
        sentences = sentences[n:]
    dateline = p.one(
        [
            f"{s['town'].upper()}, {p.int(1, 28)} {p.one(MONTHS)} {year} -",
            f"By {names.person()}",
            f"{p.one(MONTHS)} {p.int(1, 28)}, {year}",
            "",
        ]
    )
    return "\n\n".join(x for x in [headline, dateline, *paragraphs] if x)


# ------------------------------------------------------------------------- essays

EN_ESSAYS = [
    "Mending a puncture by the roadside\n\n"
    "There is a particular silence that follows a puncture. The tyre sighs, the rim begins to "
    "thump against the road, and you coast to a stop beside a hedge with the sudden knowledge "
    "that the next half hour belongs to the bicycle and not to you.\n\n"
    "The first thing to do is nothing at all. Take a drink of water, look at the sky, and let "
    "the small irritation pass. Repairs made in a temper are the ones that fail. Then turn the "
    "bicycle over, or hang it from a gate, and release the brake so that the wheel can come "
    "out cleanly.\n\n"
    "Tyre levers are the most useful objects ever made from a few grams of plastic. Hook one "
    "under the bead opposite the valve, lever it over the rim, and run the second lever round "
    "until one side of the tyre is free. Pull out the tube, pump a little air into it and "
    "listen. Often you will hear the leak before you find it; otherwise, pass the tube slowly "
    "past your lips, which are more sensitive to a thin stream of air than your fingers are.\n\n"
    "Before patching anything, find what caused the hole. Run your fingertips carefully "
    "around the inside of the tyre. A sliver of flint or a thorn left in place will puncture "
    "the new tube within a mile, and there are few experiences more discouraging than mending "
    "the same hole twice. When you find the culprit, pick it out and keep it for a moment in "
    "your palm; it is absurd how small it usually is.\n\n"
    "Roughen the rubber around the hole with the little square of sandpaper from the kit, "
    "spread a thin film of glue a little wider than the patch, and wait until the glue turns "
    "from glossy to dull. This waiting is the whole secret, and it is the step that impatient "
    "people skip. Press the patch down firmly, from the middle outwards, and hold it.\n\n"
    "Refitting the tyre is easier if you start at the valve and finish opposite it, pushing "
    "the last stubborn section on with your thumbs rather than the levers, which can pinch "
    "the tube. Inflate it a little, check that the bead sits evenly all the way round, then "
    "pump it up fully. Put the wheel back, set the brake, spin the wheel once to watch it run "
    "true, and ride on. The hedge, the sky and the half hour are already becoming a story.",
    "What the rock pools keep\n\n"
    "At low water on a spring tide the shore gives up a country that is hidden for most of "
    "the month. The sea draws back past the last line of weed, and between the ridges of rock "
    "it leaves behind a scattering of pools, each one a small and temporary world.\n\n"
    "The first thing you notice is how still they are. The wind ruffles the surface, but below "
    "it nothing seems to move, and it takes a minute of patient looking before the pool "
    "begins to reveal itself. A strand of weed turns out to be the waving legs of a shrimp. "
    "A pebble slides sideways and becomes a crab. The red blobs on the rock, which looked like "
    "spilled jelly, open into anemones with a fringe of tentacles as soon as the water covers "
    "them.\n\n"
    "Life in a rock pool is harder than it looks. Twice a day the pool is cut off from the "
    "sea. On a hot afternoon the water warms, its salt grows more concentrated as it "
    "evaporates, and the oxygen in it runs low. After a downpour it can turn almost fresh. "
    "The creatures that live here have to survive all of these changes, and many of them are "
    "remarkably tough. Limpets clamp themselves to the rock so firmly that a grown adult "
    "cannot pull them off, and return after each feeding trip to the same shallow scar they "
    "have worn into the stone.\n\n"
    "There is an etiquette to visiting. Turn stones over gently and put them back the way they "
    "were, because the underside is someone's home. Do not carry animals away in buckets for "
    "long, and never leave them in the sun. Watch where you put your feet: the weed is "
    "slippery and the barnacles are sharp.\n\n"
    "Then, when the tide turns, go back up the beach. The first small waves will reach the "
    "outer pools, and one by one the little worlds will join the sea again, until by evening "
    "there is nothing to show that they were ever there.",
    "A winter of bread\n\n"
    "I started baking bread in the first week of a long, grey winter, mostly because the "
    "kitchen was the warmest room in the house. I had no particular talent for it. My first "
    "loaf came out of the oven pale, dense and faintly sour in the wrong way, and I ate it "
    "anyway, with a great deal of butter, out of stubbornness.\n\n"
    "What I learned over the following months was that bread is less a recipe than a "
    "conversation. The same quantities of flour, water, salt and yeast behave differently on a "
    "cold morning and a warm evening. A dough that rises in two hours in August may take four "
    "in January. The instructions in books give times, but the dough only understands "
    "temperature, and the baker's real job is to watch it rather than the clock.\n\n"
    "I learned to recognise the moment when kneaded dough turns from sticky and ragged to "
    "smooth and springy, and to press a floured finger into a risen loaf and see whether the "
    "dent filled back slowly, which means it is ready, or sprang back at once, which means "
    "it needs more time. I learned that a tray of water in the bottom of the oven gives a "
    "better crust, and that cutting into a loaf while it is still hot makes the crumb gummy, "
    "however hard that is to resist.\n\n"
    "By February I was baking twice a week and giving loaves away to neighbours, who returned "
    "the favour with jars of marmalade and, once, a small bag of rye flour from a mill in the "
    "next valley. The rye loaf was heavy and dark and tasted of something older than I could "
    "name.\n\n"
    "The winter ended, as winters do. The kitchen is no longer the warmest room in the house, "
    "but I still bake on Saturday mornings. It is the only part of the week when I am content "
    "to wait.",
    "Notes from a night train\n\n"
    "The night train leaves the city a little before ten. By the time the last suburbs have "
    "thinned into dark fields, most passengers have settled into the small rituals of "
    "travelling overnight: unpacking a toothbrush, arranging a jacket as a pillow, buying a "
    "cup of tea from the trolley that rattles down the corridor for the last time.\n\n"
    "I have a berth in a compartment of four. My companions are a retired schoolteacher on "
    "her way to visit a grandson, a student with an enormous rucksack, and a man in a suit "
    "who falls asleep at once and does not move until morning. We exchange the minimum of "
    "information that politeness requires and then, by unspoken agreement, turn out the "
    "light.\n\n"
    "Sleep on a train comes in pieces. The carriage sways and the wheels beat out their "
    "rhythm over the joints in the rails, and every so often the train stops at a station "
    "whose name I never catch. Lamps slide past the blind. Somewhere a door bangs and a "
    "guard's whistle sounds, thin and far away, and we move on again.\n\n"
    "Around five I give up and stand in the corridor. Outside, the landscape has changed "
    "completely. There are hills now, with mist lying in the folds between them, and small "
    "farms with a single light on in the kitchen. A heron lifts out of a ditch as we pass. The "
    "schoolteacher joins me, and we watch in silence as the sky turns from grey to pale "
    "yellow.\n\n"
    "When the train pulls into the terminus, everyone gathers their things with the slight "
    "embarrassment of people who have seen each other asleep. We say goodbye on the platform "
    "as if we were old acquaintances. It is one of the few journeys that feels like a small "
    "adventure, and it costs no more than a hotel.",
    "The case for a paper map\n\n"
    "A phone will tell you exactly where you are and how to get where you are going, and for "
    "most journeys that is all anyone needs. Yet there are good reasons to carry a paper map "
    "on a walk in the hills, and not all of them are about batteries.\n\n"
    "The first reason is the obvious one. Phones run out of charge, lose signal and do not "
    "enjoy rain. A folded sheet of paper in a plastic wallet works in a storm, in the cold "
    "and at the bottom of a valley where no mast can reach.\n\n"
    "The second reason is scale. A screen shows a small window onto the world, and it shows "
    "you the route it has chosen. A paper map shows the whole of the country around you at "
    "once: the ridge you could follow if the weather improves, the stream you will have to "
    "cross, the farm track that offers a shorter way down if someone in the group is tired. "
    "It invites you to make decisions instead of following instructions.\n\n"
    "The third reason is harder to pin down. Reading contour lines, matching the shape of a "
    "hill on paper to the hill in front of you, and noticing when the two stop agreeing are "
    "skills that sharpen with practice. People who navigate by map tend to know where they "
    "have been. They remember the names of the summits and the direction of the valleys, and "
    "the landscape becomes a place they understand rather than a series of turns.\n\n"
    "None of this is an argument against phones. Carry both. But learn to use the map first, "
    "while the weather is good and the stakes are low, so that on the day you need it, it is "
    "an old friend rather than a puzzle.",
    "The first year of the allotment\n\n"
    "When the council offered us a plot on the allotment site behind the station, it was "
    "covered in brambles taller than I am. The previous tenant had given up some years "
    "before, and nature had taken the ground back with enthusiasm.\n\n"
    "We spent most of the first spring clearing it. Brambles come out with a fork and a great "
    "deal of swearing; couch grass, whose white roots run through the soil like string, comes "
    "out only with patience. Each weekend we cleared a strip a few metres wide, and each week "
    "we found something new: a rusted spade, a buried row of bricks that had once edged a "
    "path, and a rhubarb crown that had survived everything and was still producing thick red "
    "stems.\n\n"
    "The older plot holders watched us with interest and gave advice freely, though not "
    "always consistently. One told us to plant potatoes in the cleared ground because they "
    "would break up the soil; another told us that potatoes were a waste of space. We planted "
    "them anyway, and they did break up the soil, and in August we dug up more than we could "
    "eat.\n\n"
    "Not everything went well. The slugs ate the first two sowings of lettuce entirely. The "
    "beans were late, the carrots forked, and a pigeon took a particular liking to the "
    "cabbages. But the courgettes did what courgettes do, which is to produce far more than "
    "any household can use, and by September our neighbours had learned to close their doors "
    "when they saw us coming with a bag.\n\n"
    "By the end of the year the plot looked like a garden. We had a compost bin made from old "
    "pallets, a water butt fed from the shed roof, and a list of everything we would do "
    "differently next time. That list, I suspect, is the real harvest of the first year.",
]


# =========================================================================== Chinese

ZH_SURNAMES = list(
    "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝"
)
ZH_GIVEN = words(
    "晓明 建华 丽娟 志强 秀英 海燕 文博 雨桐 子涵 俊杰 佳怡 国庆 春梅 立新 宏伟 "
    "欣然 浩然 思远 静怡 明辉 玉兰 德胜 晨曦 亚楠 永康 慧敏 嘉欣 振宇 婉清 一鸣 "
    "红 伟 芳 军 磊 洁 斌 敏"
)
ZH_TOWN_A = list("青白石柳桃云清金龙凤梅松岚禾杏苇枫芦鹤茶")
ZH_TOWN_B = list("溪河岭湖塘桥坪口湾林阳源埠集")
ZH_COUNTY_B = list("安宁丰和平昌兴泰乐源")
ZH_PROVINCES = {
    "浙江省": ("吴语",),
    "江西省": ("赣语", "客家话"),
    "湖南省": ("湘语", "西南官话"),
    "安徽省": ("江淮官话", "徽语"),
    "福建省": ("闽语", "客家话"),
    "四川省": ("西南官话",),
    "湖北省": ("西南官话", "江淮官话"),
}
ZH_RIVERS = ["清溪河", "白沙江", "柳河", "桃江", "云水河", "石门溪", "松溪", "金沙河", "龙潭河"]
ZH_MOUNTAINS = ["云雾山", "笔架山", "青龙岭", "狮子峰", "白马尖", "鹰嘴岩"]
ZH_CITIES = ["省城", "市区", "邻近的地级市", "沿海城市"]
ZH_CO_PLACES = ["青禾", "东澜", "华岳", "明川", "嘉禾", "远山", "恒泰", "瑞丰", "星河", "金桥"]
ZH_CO_TRADES = [
    "科技",
    "食品",
    "物流",
    "机械",
    "纺织",
    "生物医药",
    "新材料",
    "电子",
    "建材",
    "包装",
]


class ZhNames:
    def __init__(self, p: Pick) -> None:
        self.p = p
        self.used_towns: list[str] = []

    def person(self) -> str:
        return self.p.one(ZH_SURNAMES) + self.p.one(ZH_GIVEN)

    def town_base(self) -> str:
        for _ in range(300):
            t = self.p.one(ZH_TOWN_A) + self.p.one(ZH_TOWN_B)
            if t not in self.used_towns:
                self.used_towns.append(t)
                return t
        return self.p.one(ZH_TOWN_A) + self.p.one(ZH_TOWN_B)

    def county(self) -> str:
        return self.p.one(ZH_TOWN_A) + self.p.one(ZH_COUNTY_B) + "县"

    def company(self, listed: bool = False) -> str:
        suffix = "股份有限公司" if listed else self.p.one(["有限公司", "有限责任公司"])
        return self.p.one(ZH_CO_PLACES) + self.p.one(ZH_CO_TRADES) + suffix

    def place_slots(self) -> dict:
        p = self.p
        base = self.town_base()
        province = p.one(list(ZH_PROVINCES))
        neighbor = p.one(ZH_TOWN_A) + p.one(ZH_TOWN_B) + "镇"
        return {
            "镇": base + "镇",
            "镇名": base,
            "邻镇": neighbor,
            "省": province,
            "方言": p.one(ZH_PROVINCES[province]),
            "县": self.county(),
            "河": p.one(ZH_RIVERS),
            "山": p.one(ZH_MOUNTAINS),
            "城市": p.one(ZH_CITIES),
            "人名": self.person(),
            "人名2": self.person(),
            "学校": p.one([f"{base}镇中心小学", f"{base}中学", "县实验小学", "县第二中学"]),
            "街": p.one(["老街", "河街", "东大街", "横街", "米市街"]),
        }


# ---------------------------------------------------------------- 乡镇百科条目

ZH_TOWN_LEAD = [
    "{镇}是{省}{县}下辖的一个镇，位于{河}{岸}，距县城约{距离}公里。{普查年}年第{普查次}次全国"
    "人口普查时，全镇常住人口为{人口}人。",
    "{镇}隶属于{省}{县}，地处{地形}，东与{邻镇}相邻。全镇下辖{村数}个行政村和{社区数}个社区，"
    "户籍人口约{人口}人。",
    "{镇}位于{县}{方位}部，{河}穿境而过，是一座依山傍水的小镇。全镇面积{面积}平方公里，"
    "{普查年}年常住人口{人口}人。",
]
ZH_TOWN_SECTIONS = [
    (
        "历史沿革",
        [
            (
                "{镇}历史悠久，据县志记载，早在{朝代}时此地已有人聚居。",
                "据县志记载，{镇名}一带在{朝代}时已形成村落，因地处交通要道而逐渐兴旺。",
            ),
            "明清两代，这里是{河}沿岸重要的水运码头，{特产}经此装船，销往{城市}等地。",
            "镇上保存的{古迹}始建于{朝代2}，{修缮年}年由县文物部门主持进行了整体修缮。",
            "{设乡年}年设{镇名}乡，{建镇年}年撤乡建镇。",
            "二十世纪八十年代以后，随着乡镇企业的兴起，{镇}逐步形成了以{产业}为主的产业格局。",
            "近年来，当地结合美丽乡村建设，整治河道、改造老街，小镇面貌焕然一新。",
        ],
    ),
    (
        "自然地理",
        [
            "全镇总面积约{面积}平方公里，地势{地势}，{河}自西向东穿境而过。",
            (
                "属亚热带季风气候，四季分明，雨量充沛。年平均气温约{气温}℃，年降水量约{降水}毫米。",
                "气候温和湿润，春季多雨，夏季炎热，冬季偶有霜冻，年平均气温在{气温}℃左右。",
            ),
            "境内最高峰{山}海拔{海拔}米，山上林木茂密，是当地居民登山休闲的好去处。",
            "{河}在镇区段河道较宽，夏季汛期水位上涨较快，沿岸已建成防洪堤{堤长}公里。",
            "镇域森林覆盖率达{森林}%，溪流众多，水质良好。",
        ],
    ),
    (
        "经济",
        [
            "农业以种植{作物}为主，近年来大力发展{特色农业}。",
            "{特产}是当地的传统名产，其制作技艺已被列入县级非物质文化遗产代表性项目名录。",
            "镇内有{企业}等企业，主要生产{产品}，吸纳了大量本地劳动力。",
            "依托{古迹}和{山}的自然风光，乡村旅游发展较快，每年接待游客约{游客}万人次。",
            "每逢农历{集日}日为集日，周边村民前来赶集，{街}上人头攒动。",
            "镇上不少青壮年外出务工，留守老人和儿童的照料问题受到当地政府的重视。",
        ],
    ),
    (
        "社会与文化",
        [
            "每年农历{月份}，镇上都会举办{节会}，吸引周边乡镇的群众前来观看。",
            "{学校}等学校承担全镇的义务教育，镇卫生院设有床位{床位}张。",
            "当地方言属{方言}，与县城口音略有不同。",
            "镇上的{古迹}是县级文物保护单位，其中的木雕和砖雕工艺精湛。",
            "{街}保留了明清时期的街巷格局，两侧多为青砖黛瓦的老房子。",
        ],
    ),
    (
        "交通",
        [
            "{公路}穿镇而过，每天有多班客车往返县城。",
            "距最近的高铁站约{高铁}公里，驾车约需{分钟}分钟。",
            "镇区至各行政村已全部通硬化路，农村客运班线通达所有行政村。",
        ],
    ),
]


def zh_town(p: Pick, names: ZhNames) -> str:
    s = names.place_slots()
    census = p.one([(2010, "六"), (2020, "七")])
    set_xiang = p.int(1950, 1984)
    s.update(
        岸=p.one(["北岸", "南岸", "东岸", "西岸", "中游"]),
        距离=p.int(6, 52),
        普查年=census[0],
        普查次=census[1],
        人口=f"{p.int(8000, 68000)}",
        地形=p.one(["丘陵地带", "山区", "河谷平原", "低山丘陵区"]),
        村数=p.int(6, 28),
        社区数=p.int(1, 4),
        方位=p.one(["东", "西", "南", "北", "东北", "西南"]),
        面积=p.int(40, 260),
        朝代=p.one(["唐代", "宋代", "元代", "明代初年"]),
        朝代2=p.one(["明代", "清代", "清代中期", "明代万历年间", "清代乾隆年间"]),
        特产=p.one(["竹编", "米酒", "豆腐乳", "手工粉丝", "土布", "酱菜", "茶油", "笋干"]),
        古迹=p.one(["万寿桥", "文昌阁", "许氏宗祠", "古戏台", "魁星楼", "永济桥"]),
        修缮年=p.int(1998, 2021),
        设乡年=set_xiang,
        建镇年=set_xiang + p.int(8, 40),
        产业=p.one(["竹木加工", "纺织服装", "农产品加工", "建材", "小五金制造"]),
        地势=p.one(["西高东低", "北高南低", "四周环山、中部为河谷平原", "南部多山、北部平坦"]),
        气温=p.int(15, 19),
        降水=p.int(1100, 1800),
        海拔=p.int(480, 1450),
        堤长=p.int(3, 18),
        森林=p.int(52, 78),
        作物=p.one(["水稻和油菜", "茶叶和毛竹", "柑橘和蔬菜", "玉米和红薯", "莲藕和水稻"]),
        特色农业=p.one(["稻虾共作", "林下养殖", "有机茶园", "设施蔬菜", "中药材种植"]),
        产品=p.one(["竹制家居用品", "纺织面料", "农产品罐头", "小型农机配件", "包装材料"]),
        游客=p.int(3, 60),
        集日=p.one(["三、六、九", "一、四、七", "二、五、八"]),
        月份=p.one(["正月十五", "五月初五", "八月十五", "九月初九", "二月初二"]),
        节会=p.one(["龙舟赛", "庙会", "灯会", "采茶节", "丰收节", "舞龙表演"]),
        床位=p.int(20, 120),
        公路=p.one([f"省道S{p.int(201, 399)}线", f"县道X{p.int(101, 899)}线"]),
        高铁=p.int(15, 70),
    )
    s["分钟"] = s["高铁"] * p.int(9, 14) // 10
    trade = {
        "竹制家居用品": "竹木制品",
        "纺织面料": "纺织",
        "农产品罐头": "食品",
        "小型农机配件": "机械",
        "包装材料": "包装",
    }[s["产品"]]
    s["企业"] = p.one(ZH_CO_PLACES) + trade + p.one(["有限公司", "有限责任公司"])
    parts = [s["镇"], fill(p.one(ZH_TOWN_LEAD), s)]
    for title, sentences in p.subset(ZH_TOWN_SECTIONS, 2, 5):
        parts.append(title + "\n" + "".join(fill_all(p.some(sentences, 2, 5), s)))
    return "\n\n".join(parts)


# ---------------------------------------------------------------- 百科短条目

ZH_ENTRIES = [
    (
        "二十四节气",
        "二十四节气是中国古代根据太阳在黄道上的位置划分出来的时间节点，用来指导农事活动。它把一年"
        "分为二十四个段落，包括立春、雨水、惊蛰、春分、清明、谷雨等，每个节气大约相隔十五天。二十"
        "四节气反映了季节、气候和物候的变化，是古人长期观察自然的总结。2016年，“二十四节气”被列入"
        "联合国教科文组织人类非物质文化遗产代表作名录。",
    ),
    (
        "豆腐",
        "豆腐是以大豆为主要原料制成的食品。制作时先将大豆浸泡、磨浆、煮沸，再加入盐卤或石膏等凝固"
        "剂，使豆浆中的蛋白质凝结，最后压去多余的水分成型。相传豆腐的发明与西汉淮南王刘安有关。豆"
        "腐富含植物蛋白，价格低廉，做法多样，在东亚饮食中占有重要地位。",
    ),
    (
        "算盘",
        "算盘是一种传统的计算工具，由框架、横梁和穿在档上的算珠组成。常见的中国算盘每档上方有两颗"
        "珠，下方有五颗珠，上珠一颗当五，下珠一颗当一。用算盘进行计算的方法称为珠算，可以完成加减"
        "乘除等运算。2013年，中国珠算被列入联合国教科文组织人类非物质文化遗产代表作名录。",
    ),
    (
        "活字印刷术",
        "活字印刷术是先制成单个字模，再按需要排版印刷的技术。据北宋沈括《梦溪笔谈》记载，北宋庆历"
        "年间，平民毕昇发明了胶泥活字：用胶泥刻字，一字一印，用火烧硬后排版印刷，印完后字模可以拆"
        "下重复使用。与雕版印刷相比，活字印刷省时省料，对后世影响深远。",
    ),
    (
        "造纸术",
        "造纸术是中国古代的四大发明之一。考古发现表明，西汉时期已经出现了植物纤维纸。东汉时，蔡伦"
        "总结前人经验，用树皮、麻头、破布和旧渔网等原料造纸，降低了成本，提高了质量，使纸张得到推"
        "广。此后，造纸术逐渐传到朝鲜、日本、阿拉伯地区和欧洲。",
    ),
    (
        "指南针",
        "指南针是利用磁针在地磁场作用下指示南北方向的仪器。战国时期的“司南”被认为是指南针的早期形"
        "态。到了北宋，人们已能用人工磁化的方法制作指南针，并将其用于航海。指南针的应用为远洋航行"
        "提供了重要保障。",
    ),
    (
        "大熊猫",
        "大熊猫是中国特有的哺乳动物，主要分布在四川、陕西和甘肃的山区。它们体型肥硕，毛色黑白相间，"
        "以竹子为主要食物，每天要花很长时间进食。大熊猫繁殖率较低，经过多年保护，野生种群数量有所"
        "回升。大熊猫国家公园于2021年正式设立。",
    ),
    (
        "长江",
        "长江是中国第一长河，全长约6300公里，发源于青藏高原的唐古拉山脉，流经多个省、自治区和直辖"
        "市，在上海注入东海。长江流域气候温和，雨量充沛，是中国重要的农业和经济区域。三峡工程位于"
        "长江干流上，具有防洪、发电和航运等综合效益。",
    ),
    (
        "潮汐",
        "潮汐是海水在月球和太阳引力作用下发生的周期性涨落现象。古人把白天的涨落称为“潮”，夜间的称"
        "为“汐”，合称潮汐。在农历初一和十五前后，太阳、月球和地球大致位于一条直线上，引潮力叠加，"
        "潮差较大，称为大潮。钱塘江大潮是中国著名的涌潮景观，以农历八月十八前后最为壮观。",
    ),
    (
        "光合作用",
        "光合作用是绿色植物利用光能，把二氧化碳和水合成有机物并释放氧气的过程。这一过程主要在叶片"
        "细胞的叶绿体中进行。光合作用不仅为植物自身的生长提供了物质和能量，也为地球上几乎所有生物"
        "提供了食物来源，同时维持着大气中氧气和二氧化碳的相对平衡。",
    ),
    (
        "彩虹",
        "彩虹是阳光照射到空气中的水滴时，光线经过折射、反射和再折射而形成的弧形彩带。彩虹通常出现"
        "在雨后，观察者背对太阳时最容易看到。主虹的颜色从外到内依次为红、橙、黄、绿、蓝、靛、紫。"
        "有时在主虹外侧还能看到一道颜色较淡、顺序相反的副虹，俗称“霓”。",
    ),
    (
        "闰年",
        "闰年是为了使历法与地球公转周期保持一致而设置的年份。地球绕太阳一周约需365.24天，因此公历"
        "规定：能被4整除的年份为闰年，但能被100整除而不能被400整除的年份不是闰年。闰年的二月有29"
        "天，全年366天。例如，2000年是闰年，而1900年不是。",
    ),
    (
        "竹子",
        "竹子是禾本科竹亚科植物的统称，茎秆中空有节，生长迅速，有些竹子在生长旺季一天可以长高几十"
        "厘米。竹子用途广泛，竹材可用于建筑、家具和编织，竹笋可以食用。在中国传统文化中，竹子象征"
        "坚韧和气节，与梅、兰、菊并称“四君子”。",
    ),
    (
        "茶",
        "茶是用茶树的叶子加工而成的饮品。中国是茶树的原产地之一，也是世界上最早种茶、制茶和饮茶的"
        "国家。根据加工方法的不同，茶叶一般分为绿茶、白茶、黄茶、青茶（乌龙茶）、红茶和黑茶六大类。"
        "唐代陆羽所著的《茶经》是世界上第一部茶学专著。",
    ),
    (
        "风筝",
        "风筝是一种借助风力升空的玩具，通常用竹篾扎成骨架，再糊上纸或绢制成。相传风筝起源于中国，古"
        "称“纸鸢”。每到春天，人们喜欢在空旷的地方放风筝。山东潍坊以风筝制作闻名，每年都会举办国际"
        "风筝会。",
    ),
    (
        "水循环",
        "水循环是指地球上的水在海洋、大气和陆地之间不断运动和转化的过程。在太阳辐射的作用下，海洋"
        "和陆地上的水蒸发成水汽，水汽上升冷却后凝结成云，再以降雨或降雪的形式回到地面。一部分水汇"
        "入江河，最终流回海洋；一部分渗入地下，成为地下水。",
    ),
    (
        "质数",
        "质数又称素数，是指大于1且只能被1和它本身整除的自然数，例如2、3、5、7、11。2是唯一的偶质数。"
        "古希腊数学家欧几里得证明了质数有无穷多个。质数在现代密码学中有重要应用，许多加密算法的安全"
        "性都依赖于大数分解的困难。",
    ),
    (
        "丝绸",
        "丝绸是以蚕丝为原料织成的织物。中国是世界上最早养蚕、缫丝和织绸的国家，考古发现表明，几千"
        "年前这里就已经有了丝织品。汉代以后，丝绸经由陆上和海上通道大量输往西方，这些贸易路线后来"
        "被称为“丝绸之路”。丝绸质地轻薄、光泽柔和，深受人们喜爱。",
    ),
    (
        "月相",
        "月相是指从地球上看到的月球被太阳照亮部分的形状变化。月球本身不发光，随着月球绕地球运行，"
        "日、月、地三者的相对位置不断变化，人们看到的月亮也从新月、上弦月、满月到下弦月循环变化，"
        "周期约为29.5天。中国传统的农历就是根据月相变化来确定月份的。",
    ),
    (
        "图书馆",
        "图书馆是收集、整理和保存文献资料，并向公众提供阅读和信息服务的机构。现代公共图书馆通常免费"
        "向社会开放，除借阅图书外，还提供电子资源、讲座和展览等服务。中国国家图书馆位于北京，是国内"
        "规模最大的图书馆之一。",
    ),
]


def zh_entry(p: Pick, title: str, body: str) -> str:
    style = p.int(0, 2)
    if style == 0:
        return f"{title}\n\n{body}"
    if style == 1:
        return body
    related = "、".join(t for t, _ in p.subset(ZH_ENTRIES, 2, 3) if t != title)
    return f"{title}\n{body}\n\n相关条目：{related}"


# ---------------------------------------------------------------- 健康科普提示

ZH_HEALTH = [
    {
        "title": "高温天气注意及时补水",
        "team": "社区全科护理团队",
        "intro": (
            "高温天气里，人体通过出汗散失大量水分，大多数人需要比平时喝更多的水。本提示介绍如何判断"
            "饮水是否充足，以及哪些人群需要格外注意。",
            "持续高温时，脱水可能在几个小时内发生，原本身体不适的人风险更高。以下建议适用于大多数成年人。",
        ),
        "points": [
            "少量多次饮水，不要等到口渴时才喝。",
            "尿液呈淡黄色通常说明饮水充足；尿色深黄提示需要补充水分。",
            "老年人、婴幼儿和户外工作者风险更高，家人应提醒他们按时喝水。",
            "少喝含酒精和高糖的饮料，它们补水效果较差。",
            "正在服用利尿药，或患有心脏病、肾病的人，应向医生咨询合适的饮水量，一般建议未必适用。",
            "尽量把户外活动安排在早晚较凉爽的时段，中午注意在阴凉处休息。",
            "白天拉上朝阳一侧的窗帘，有助于保持室内凉爽。",
        ],
        "warning": "如果有人出现意识模糊、晕倒、高温下不再出汗或体温明显升高，可能是热射病的表现，"
        "属于急症，应立即拨打急救电话。",
    },
    {
        "title": "居家正确洗手",
        "team": "医院感染管理科",
        "intro": (
            "保持手部清洁是预防感冒、腹泻等常见传染病最有效的方法之一。",
            "很多感染是通过没洗干净的手接触眼、口、鼻传播的。在关键时刻洗手，可以大大降低感染风险。",
        ),
        "points": [
            "用肥皂和流动水洗手，揉搓时间不少于20秒，注意手背、指缝和指甲缝。",
            "如厕后、给婴儿换尿布后、准备食物和吃饭前，一定要洗手。",
            "洗手后用干净的毛巾或纸巾擦干，毛巾最好不要与他人共用。",
            "没有条件用肥皂洗手时，可以使用含酒精的免洗洗手液，但手上有明显污物时效果不佳。",
            "咳嗽、打喷嚏时用纸巾遮掩口鼻，用后丢弃纸巾并清洁双手。",
            "指甲要常剪，洗手时最好摘下戒指。",
        ],
        "warning": "家中有人腹泻或呕吐时，应使用肥皂和流动水洗手，而不是只用免洗洗手液；症状持续"
        "数日不缓解或无法进食饮水，应及时就医。",
    },
    {
        "title": "家庭药品的储存与处理",
        "team": "药学部",
        "intro": (
            "药品只有正确储存、及时清理，才能保证安全有效。",
            "每年都有儿童因误服家中药品而受到伤害。养成几个简单的习惯，就能避免大多数意外。",
        ),
        "points": [
            "药品尽量保留原包装和说明书，便于随时查看用法用量和有效期。",
            "把药品放在儿童看不到、够不着的地方，最好放在带锁的柜子里。",
            "大多数片剂应存放在阴凉干燥处，卫生间通常过于潮湿，不宜存放药品。",
            "部分药品如某些胰岛素和滴眼液开封后需要冷藏，请查看标签说明。",
            "处方药不要与他人共用，即使对方症状看起来相同。",
            "过期或不再需要的药品，请交回药店或社区设置的回收点，不要随意丢弃或冲入下水道。",
        ],
        "warning": "怀疑儿童误服了药品时，即使孩子看起来没有异常，也应立即就医，并带上药品包装。",
    },
    {
        "title": "轻度烫伤的家庭处理",
        "team": "急诊科护理组",
        "intro": (
            "被热水、热锅或熨斗造成的小面积烫伤，大多可以在家处理，关键是尽快进行正确的急救。",
            "烫伤后最初几分钟的处理，对伤口愈合有很大影响。",
        ),
        "points": [
            "立即用凉的流动水冲洗烫伤处约20分钟。",
            "在肿胀出现前，取下烫伤部位附近的戒指、手表和衣物，但已粘在皮肤上的不要强行撕下。",
            "不要用冰块、冰水，也不要涂抹牙膏、酱油或黄油等。",
            "冲洗后可用保鲜膜或干净的塑料袋松松地覆盖伤处，起到保护作用。",
            "冲洗时注意给伤者保暖，尤其是儿童。",
            "不要自行挑破水疱。",
            "可以在药师指导下使用合适的止痛药。",
        ],
        "warning": "烫伤面积超过伤者手掌大小，烫伤部位在面部、手、足或会阴，属于化学或电烧伤，"
        "创面发白或焦黑，以及婴幼儿烫伤，都应及时就医。",
    },
    {
        "title": "成年人睡眠建议",
        "team": "社区健康服务中心",
        "intro": (
            "大多数成年人每晚需要7到9小时的睡眠。短期睡不好很常见，调整日常习惯后通常会有所改善。",
            "睡眠问题非常普遍，在压力大的时候尤其如此。以下习惯能帮助很多人在几周内睡得更好。",
        ),
        "points": [
            "每天尽量在固定时间上床和起床，周末也不例外。",
            "卧室保持黑暗、安静、凉爽，尽量只在卧室睡觉。",
            "下午和晚上避免饮用咖啡、浓茶，晚上不要吃得过饱。",
            "睡前一小时放下手机和平板电脑。",
            "白天规律运动有助于睡眠，但睡前不宜剧烈运动。",
            "躺下二十分钟左右仍睡不着，可以起床在昏暗的灯光下做些安静的事，有困意时再回到床上。",
        ],
        "warning": "如果睡眠问题持续数周以上，白天明显困倦，或家人发现您睡觉时打鼾严重、"
        "有呼吸暂停，请到医院就诊。",
    },
    {
        "title": "急性腰痛的最初几周",
        "team": "康复医学科",
        "intro": (
            "腰痛非常常见，通常几周内会自行好转，很少意味着脊柱受到严重损伤。",
            "突然发作的腰痛让人担心，但大多数人都能很好地恢复，保持活动有助于康复。",
        ),
        "points": [
            "在能够耐受的范围内尽量保持日常活动，长时间卧床反而会延缓恢复。",
            "可以从每天几次短距离步行开始。",
            "热水袋或热敷有助于缓解僵硬。",
            "可以请药师推荐适合自己的常用止痛药。",
            "久坐时注意经常变换姿势。",
            "适度的拉伸和锻炼有帮助，康复治疗师可以为您制订锻炼方案。",
        ],
        "warning": "如果腰痛同时伴有会阴部或臀部麻木、排尿或排便困难、下肢无力、发热，或发生在严重"
        "摔伤、外伤之后，应立即就医。",
    },
    {
        "title": "老年人预防跌倒",
        "team": "社区健康服务中心",
        "intro": (
            "跌倒是老年人受伤的主要原因之一，但很多跌倒是可以预防的。",
            "六十五岁以上的老人中，每年大约有三分之一会发生跌倒。在家中和日常生活中做一些小调整，"
            "就能明显降低风险。",
        ),
        "points": [
            "清除地面上容易绊脚的地毯和电线，保持楼梯和过道通畅。",
            "夜间使用小夜灯，方便起夜时看清道路。",
            "穿合脚、防滑的鞋子。",
            "太极拳等增强力量和平衡能力的运动，可以减少跌倒。",
            "如果服用的药物让您感到头晕或嗜睡，请找医生评估用药。",
            "定期检查视力。",
            "从床上或椅子上起身时动作要慢，夜间尤其如此。",
        ],
        "warning": "一年内跌倒不止一次，或者担心自己容易跌倒，"
        "请到社区卫生服务中心做一次跌倒风险评估。",
    },
    {
        "title": "流感疫苗接种提示",
        "team": "预防保健科",
        "intro": (
            "流感不是普通感冒，对部分人群可能导致严重疾病，每年接种流感疫苗是最好的预防措施。",
            "流感病毒每年都会发生变化，疫苗的保护作用也会随时间减弱，因此建议每年秋季接种。",
        ),
        "points": [
            "老年人、孕妇、慢性病患者和部分儿童是重点接种人群。",
            "最好在秋季流感流行之前完成接种。",
            "流感疫苗不会让人得流感。接种后一两天出现手臂酸痛或低热比较常见。",
            "以前接种疫苗出现过严重反应的，请提前告知接种人员。",
            "接种疫苗后，仍应注意勤洗手、咳嗽时遮掩口鼻。",
        ],
        "warning": "属于高风险人群并出现流感症状时，请及时就诊；如出现呼吸困难或胸痛，请立即就医。",
    },
    {
        "title": "儿童发热的家庭护理",
        "team": "儿科护理组",
        "intro": (
            "发热在儿童中很常见，通常是身体对感冒等感染的正常反应。",
            "孩子发烧时家长难免着急，但大多数发热是由轻微感染引起的，可以自行好转。",
        ),
        "points": [
            "让孩子多喝水，婴儿照常母乳或奶粉喂养。",
            "给孩子穿轻薄的衣服，不要捂汗，也不要用冷水擦身降温。",
            "退热药可以让孩子舒服一些，请按年龄和体重确定剂量，不要同时使用两种退热药，除非医生建议。",
            "夜间注意观察孩子的情况。",
            "发热期间暂时不要去托儿所或学校。",
        ],
        "warning": "三个月以下婴儿体温达到38℃及以上，孩子出现压之不褪色的皮疹、异常嗜睡或难以叫醒、"
        "呼吸困难，或出现口干、尿量明显减少等脱水表现时，应立即就医。",
    },
    {
        "title": "季节性过敏性鼻炎的应对",
        "team": "药学部",
        "intro": (
            "花粉过敏会引起打喷嚏、流鼻涕、鼻塞和眼睛发痒，通常在春夏季最明显。",
            "季节性过敏性鼻炎难以根治，但大多数人可以很好地控制症状。",
        ),
        "points": [
            "关注花粉浓度预报，花粉浓度高的日子尽量关闭门窗。",
            "外出回家后洗澡、换衣服。",
            "佩戴口罩和包裹式眼镜，有助于减少花粉接触。",
            "抗组胺药和鼻用激素喷剂可在药店购买，请咨询药师选择合适的药物。",
            "可在每年过敏季节开始前一两周提前使用鼻喷剂。",
            "花粉浓度高时不要在室外晾晒衣物。",
        ],
        "warning": "药店购买的药物效果不好时请到医院就诊；如出现喘息、胸闷或气短，应立即就医。",
    },
]
ZH_HOSPITALS = [
    "城东社区卫生服务中心",
    "县人民医院",
    "河西街道社区卫生服务站",
    "市第二人民医院",
    "中心医院门诊部",
    "南湖社区卫生服务中心",
]
ZH_DISCLAIMERS = [
    "本资料仅供一般健康参考，不能代替医生、护士或药师针对您个人情况给出的建议。",
    "以上内容为一般性健康知识，如有疑问，请咨询医务人员。",
    "如需大字版或其他语言版本，请向服务台工作人员索取。",
]


def zh_health(p: Pick, topic: dict) -> str:
    year = p.int(2019, 2024)
    head = [
        topic["title"],
        p.one(["健康科普", "患者须知", "健康提示"]) + f"｜{p.one(ZH_HOSPITALS)}",
        f"{year}年{p.int(1, 12)}月由{topic['team']}审核，计划于{year + p.int(2, 3)}年复核。",
    ]
    points = p.some(topic["points"], 4, 7)
    numbered = p.chance(0.5)
    lines = [f"{i + 1}. {x}" if numbered else f"· {x}" for i, x in enumerate(points)]
    body = [
        "\n".join(head),
        p.one(topic["intro"]),
        p.one(["您可以这样做", "日常建议", "注意事项"]) + "\n" + "\n".join(lines),
        p.one(["什么时候需要就医", "出现以下情况请就医", "警示信号"]) + "\n" + topic["warning"],
        p.one(ZH_DISCLAIMERS),
    ]
    return "\n\n".join(body)


# ---------------------------------------------------------------- 裁判文书摘要

ZH_CASES = [
    {
        "cause": "买卖合同纠纷",
        "facts": (
            "{年}年{月1}月，原告{原告}与被告{被告}签订买卖合同，约定由被告供应{货物}{数量}件，"
            "交货期限为{年}年{月2}月{日}日前。被告实际交货时间比约定晚{天数}天，此时销售旺季已过。"
            "原告主张因此损失销售利润{金额}元，诉至本院。",
            "原告{原告}向被告{被告}采购{货物}{数量}件，合同约定{年}年{月2}月底前交货。被告延迟"
            "{天数}天交货，原告认为被告的迟延导致其丧失了多笔订单，请求被告赔偿损失{金额}元。",
        ),
        "focus": "本案争议焦点为：被告格式条款中“对任何利润损失概不负责”的约定，"
        "是否适用于迟延交货造成的损失。",
        "outcomes": [
            (
                "本院认为，该条款已在双方此前{次数}次交易中反复使用，被告亦以加粗字体提示，原告对此"
                "应当知晓，该免责条款有效。",
                "判决驳回原告关于利润损失的诉讼请求；被告赔偿原告额外支出的仓储费用{小额}元。",
            ),
            (
                "本院认为，被告迟延交货系因其自身未及时向上游供应商下单所致。免责条款应作严格解释，"
                "不能免除一方因自身过错造成的责任。",
                "判决被告于判决生效之日起十日内赔偿原告损失{判赔}元，并承担本案受理费。",
            ),
        ],
    },
    {
        "cause": "房屋租赁合同纠纷",
        "facts": (
            "原告{原告}将位于{街道}的临街商铺出租给被告{被告}，租期十年，合同约定承租人可在第五年"
            "提前解约。{年}年被告发出解约通知并搬离。原告认为被告尚欠物业服务费{欠费}元，解约条件"
            "未成就，要求被告继续支付租金。",
            "被告{被告}承租原告{原告}所有的仓库，合同约定在“付清全部到期款项”的前提下，承租人可以"
            "提前解除合同。{年}年被告行使解除权，原告以被告尚有{欠费}元费用未付为由，主张合同继续履行。",
        ),
        "focus": "本案争议焦点为：解约通知到期时，上述费用是否已属“到期款项”。",
        "outcomes": [
            (
                "本院认为，按照合同约定，相关费用应在出租人书面催告后十四日内支付。原告未能证明在解约"
                "日前已有效催告，该费用在解约日尚未到期。",
                "被告解约有效，合同于解约日解除，驳回原告要求支付此后租金约{判赔}元的诉讼请求。",
            ),
            (
                "本院认为，原告已在解约日前依约送达书面催告，被告未在期限内付清，解约条件未成就。",
                "合同继续有效，被告应支付至租期届满的租金，但原告负有积极寻找新承租人以减少损失的义务。",
            ),
        ],
    },
    {
        "cause": "劳动争议",
        "facts": (
            "原告{个人}自{入职年}年起在被告{被告}处担任{岗位}。{年}年，被告以原告篡改加班记录为由"
            "解除劳动合同，未支付经济补偿。原告不服劳动仲裁裁决，诉至本院，要求支付违法解除劳动合同"
            "赔偿金{金额}元。",
            "原告{个人}系被告{被告}的{岗位}，{年}年被告以其违规使用公司加油卡、严重违反规章制度为由"
            "解除劳动合同。原告否认存在违规行为，请求确认被告违法解除劳动合同。",
        ),
        "focus": "本案争议焦点为：被告解除劳动合同是否有事实依据，程序是否合法。",
        "outcomes": [
            (
                "本院认为，被告提交的证据不足以证明原告存在严重违纪行为，且解除前未听取原告申辩，"
                "也未通知工会，属于违法解除。",
                "判决被告支付原告违法解除劳动合同赔偿金{判赔}元。",
            ),
            (
                "本院认为，被告提交的监控记录和原告签字确认的说明能够相互印证，原告的行为严重违反了"
                "经民主程序制定并已公示的规章制度，被告解除劳动合同并无不当。",
                "判决驳回原告的全部诉讼请求。",
            ),
        ],
    },
    {
        "cause": "建设工程施工合同纠纷",
        "facts": (
            "{年}年，原告{个人}与被告{被告}约定，由被告为原告自建房加盖一层，工程价款{价款}元。"
            "竣工不到一年，屋面出现渗漏，导致墙面和新装修的厨房受损。原告请求被告赔偿维修费用{金额}元。",
            "原告{个人}委托被告{被告}翻修老屋屋面，工程于{年}年完工。此后烟囱周边和天沟多处渗水，"
            "原告要求被告承担返修费用及室内财产损失共计{金额}元。",
        ),
        "focus": "本案争议焦点为：渗漏是施工质量问题，还是原告自行委托的设计方案存在缺陷所致。",
        "outcomes": [
            (
                "经司法鉴定，屋面泛水未按设计要求设置上翻构造，属于施工质量缺陷，与设计无关。",
                "判决被告赔偿原告维修费用{判赔}元；原告主张的厨房停用损失因证据不足，不予支持。",
            ),
            (
                "鉴定意见显示，被告系按图施工，渗漏的主要原因是设计排水坡度不足，与所选防水材料不匹配。",
                "判决驳回原告对被告的诉讼请求。原告可另行向设计方主张权利。",
            ),
        ],
    },
    {
        "cause": "著作权侵权纠纷",
        "facts": (
            "原告{个人}系摄影师，发现被告{被告}未经许可，在其官方网站和宣传册中使用了原告拍摄的"
            "{张数}张风光摄影作品，遂诉至本院，请求判令被告停止侵权并赔偿经济损失{金额}元。",
            "被告{被告}在其运营的旅游攻略页面中使用了原告{个人}拍摄的{张数}张照片。被告辩称图片来自"
            "免费壁纸网站，不知道存在著作权。",
        ),
        "focus": "本案争议焦点为：被告是否构成侵权，以及赔偿数额如何确定。",
        "outcomes": [
            (
                "本院认为，涉案照片具有独创性，属于摄影作品，原告享有著作权。被告“不知道有版权”的"
                "抗辩不能免除其侵权责任，但可在确定赔偿数额时酌情考虑。",
                "判决被告停止使用涉案作品，并参照原告通常的许可费用赔偿经济损失{判赔}元。",
            ),
            (
                "本院认为，被告在收到原告律师函后仍继续使用涉案照片数月，侵权故意明显。",
                "判决被告立即停止侵权，赔偿原告经济损失及合理开支共计{判赔}元。",
            ),
        ],
    },
    {
        "cause": "相邻关系纠纷",
        "facts": (
            "原告{个人}与被告{被告}经营的面包房相邻。{年}年被告新装的排风设备每天凌晨四点开始运转，"
            "原告称噪声导致其长期无法入睡，请求判令被告停止侵害并赔偿损失。",
            "以原告{个人}为代表的居民反映，被告{被告}经营的冷库制冷机组夜间持续产生低频噪声，"
            "附近住户卧室内清晰可闻。",
        ),
        "focus": "本案争议焦点为：被告产生的噪声是否超出了相邻关系中应当容忍的合理限度。",
        "outcomes": [
            (
                "经第三方检测，夜间卧室噪声明显超过国家标准限值，且涉案区域以居住为主，噪声影响较大。",
                "判决被告在加装隔声设施前，每日七时前不得开启排风设备，并赔偿原告精神损害抚慰金{小额}元。",
            ),
            (
                "诉讼期间被告已为设备加装消声器，复测结果显示噪声已符合标准，与周边商住混合街区的一般"
                "情况相当。",
                "判决驳回原告要求停止侵害的诉讼请求，被告赔偿原告此前受到的影响{小额}元。",
            ),
        ],
    },
    {
        "cause": "财产保险合同纠纷",
        "facts": (
            "原告{个人}家中卫生间地下水管破裂，造成房屋受损。被告{被告}以保险条款中“渗漏所致损失"
            "不予赔偿”为由拒赔，原告诉请被告支付保险金{金额}元。",
            "原告{原告}投保的企业财产险期间，仓库喷淋管道漏水致库存货物受损。被告{被告}以渗漏免责"
            "条款为由拒绝理赔，双方协商未果。",
        ),
        "focus": "本案争议焦点为：损失系由管道突然破裂所致，还是属于免责条款约定的长期渗漏。",
        "outcomes": [
            (
                "现场痕迹显示管道接头系突然断裂，水渍分布符合短时间内大量漏水的特征。保险人对免责事由"
                "负有举证责任，被告未能完成举证。",
                "判决被告向原告支付保险金{判赔}元及相应利息。",
            ),
            (
                "鉴定意见表明，接头长期渗水，楼板龙骨早已腐朽，损失属于免责条款约定的情形，且被告已就"
                "该条款履行了提示和说明义务。",
                "判决驳回原告的诉讼请求。",
            ),
        ],
    },
]
ZH_CLAIM_RANGES = {
    "买卖合同纠纷": (18, 460),
    "房屋租赁合同纠纷": (30, 600),
    "劳动争议": (20, 200),
    "建设工程施工合同纠纷": (10, 150),
    "著作权侵权纠纷": (5, 100),
    "相邻关系纠纷": (5, 50),
    "财产保险合同纠纷": (10, 500),
}
ZH_GOODS = ["户外取暖器", "儿童自行车", "庭院桌椅", "充气皮划艇", "电风扇", "空气净化器"]
ZH_POSTS = ["仓库主管", "货车司机", "销售经理", "化验员", "施工员"]


def zh_case(p: Pick, names: ZhNames) -> str:
    case = p.one(ZH_CASES)
    year = p.int(2016, 2023)
    s = {
        "年": year,
        "月1": p.int(1, 4),
        "月2": p.int(5, 7),
        "日": p.int(1, 28),
        "原告": names.company(),
        "被告": names.company(),
        "个人": names.person(),
        "货物": p.one(ZH_GOODS),
        "数量": p.int(40, 900),
        "天数": p.int(9, 61),
        "小额": f"{p.int(8, 90) * 100:,}",
        "次数": p.int(3, 14),
        "街道": p.one(["解放路", "人民路", "中山街", "建设路", "文化街"]),
        "欠费": f"{p.int(9, 240) * 10:,}",
        "入职年": year - p.int(2, 15),
        "岗位": p.one(ZH_POSTS),
        "价款": f"{p.int(4, 18) * 10000:,}",
        "张数": p.one(["4", "6", "11", "14", "22"]),
    }
    lo, hi = ZH_CLAIM_RANGES[case["cause"]]
    amount = p.int(lo, hi) * 1000
    s["金额"] = f"{amount:,}"
    s["判赔"] = f"{amount * p.int(20, 95) // 10_000 * 100:,}"
    if case["cause"] == "财产保险合同纠纷":
        s["被告"] = p.one(ZH_CO_PLACES) + "财产保险股份有限公司"
    if case["cause"] == "相邻关系纠纷":
        s["被告"] = p.one(ZH_CO_PLACES) + "食品有限公司"
    if case["cause"] in ("房屋租赁合同纠纷", "相邻关系纠纷") and p.chance(0.4):
        s["被告"] = names.person()
    template = p.one(case["facts"])
    plaintiff = s["个人"] if "{个人}" in template else s["原告"]
    outcome = case["outcomes"][p.int(0, len(case["outcomes"]) - 1)]
    court = p.one(["云安", "溪口", "宁丰", "临川", "清平"])
    level = p.one(["区人民法院", "县人民法院", "市中级人民法院"])
    kind = "民终" if "中级" in level else "民初"
    prov = p.one(["浙", "赣", "湘", "皖", "闽", "川", "鄂"])
    district = "" if "中级" in level else f"{p.int(1, 9):02d}"
    number = f"（{year + p.int(0, 1)}）{prov}0{p.int(1, 9)}{district}{kind}{p.int(100, 9999)}号"
    labels = [
        ("基本案情", "争议焦点", "裁判理由", "裁判结果"),
        ("案情简介", "争议焦点", "法院认为", "判决结果"),
    ][p.int(0, 1)]
    blocks = [
        f"{plaintiff}诉{s['被告']}{case['cause']}案",
        f"{court}{level} {number}",
        f"【{labels[0]}】\n{fill(template, s)}",
        f"【{labels[1]}】\n{fill(case['focus'], s)}",
        f"【{labels[2]}】\n{fill(outcome[0], s)}",
        f"【{labels[3]}】\n{fill(outcome[1], s)}",
    ]
    if p.chance(0.35):
        blocks.append(
            "【典型意义】\n"
            + p.one(
                [
                    "本案提示市场主体，格式条款的订立应当公平，并以合理方式提示对方注意。",
                    "本案判决依法平衡了双方利益，对同类纠纷的处理具有参考价值。",
                    "一审判决后，双方均未上诉，判决已发生法律效力。",
                    "本案经调解未能达成一致，法院依法作出判决。",
                ]
            )
        )
    return "\n\n".join(blocks)


# ---------------------------------------------------------------- 上市公司公告段落

ZH_RISKS = [
    "原材料价格波动风险：公司主要原材料价格受大宗商品市场影响较大，如价格大幅上涨，将对公司毛利率"
    "产生不利影响。",
    "客户集中度较高的风险：报告期内前五大客户销售额占比较高，若主要客户需求下降，可能影响公司业绩。",
    "技术研发风险：行业技术更新较快，若公司不能及时推出满足市场需求的新产品，竞争力可能下降。",
    "汇率波动风险：公司部分销售以外币结算，汇率变动可能导致汇兑损失。",
    "应收账款回收风险：随着业务规模扩大，应收账款余额相应增加，若客户经营状况恶化，可能产生坏账。",
    "人才流失风险：核心技术人员的稳定对公司发展至关重要，如出现人才流失，可能影响研发进度。",
    "信息安全风险：公司业务高度依赖信息系统，若遭受网络攻击或系统故障，可能导致业务中断或数据泄露。",
]


def zh_filing(p: Pick, names: ZhNames) -> str:
    company = names.company(listed=True)
    year = p.int(2016, 2024)
    prev = p.int(3, 240) + p.int(0, 99) / 100
    up = p.chance(0.7)
    change = p.int(2, 35) + p.int(0, 99) / 100
    rev = prev * (1 + change / 100) if up else prev * (1 - change / 100)
    ni = rev * p.int(2, 15) / 100
    ni_change = p.int(1, 60) + p.int(0, 99) / 100
    rd = p.int(3, 12) + p.int(0, 9) / 10
    short = "".join(company[:2]) + company[2:4]
    code = f"{p.one(['60', '00', '30'])}{p.int(0, 9999):04d}"
    s = {
        "rev": f"{rev:.2f}",
        "change": f"{change:.2f}",
        "ni": f"{ni:.2f}",
        "ni_change": f"{ni_change:.2f}",
    }
    ops = (
        "一、报告期内公司主要经营情况\n"
        f"报告期内，公司实现营业收入{s['rev']}亿元，同比{'增长' if up else '下降'}{s['change']}%；"
        f"归属于上市公司股东的净利润{s['ni']}亿元，同比"
        f"{'增长' if p.chance(0.7 if up else 0.3) else '下降'}{s['ni_change']}%。"
        + p.one(
            [
                "收入增长主要得益于新产品放量和海外市场的拓展。"
                if up
                else "收入下降主要受下游需求疲软和部分客户项目延期影响。",
                "公司持续优化产品结构，高附加值产品收入占比进一步提高。",
                "报告期内原材料价格高位运行，公司通过精益生产和集中采购部分抵消了成本上涨的影响。",
            ]
        )
        + f"全年研发投入占营业收入的{rd}%。"
    )
    cash = (
        "二、现金流量情况\n"
        f"报告期末，公司货币资金余额为{rev * p.int(8, 30) / 100:.2f}亿元，"
        + p.one(
            [
                "资产负债率处于行业较低水平，财务状况稳健。",
                f"经营活动产生的现金流量净额为{ni * p.int(80, 150) / 100:.2f}亿元，回款情况良好。",
                "短期借款较上年末有所增加，主要用于补充流动资金。",
            ]
        )
    )
    risks = "三、可能面对的风险\n" + "\n".join(
        f"{i + 1}. {r}" for i, r in enumerate(p.some(ZH_RISKS, 2, 4))
    )
    dividend = "四、利润分配预案\n" + p.one(
        [
            f"公司拟以总股本为基数，向全体股东每10股派发现金红利{p.int(1, 30) / 10:.1f}元（含税），"
            "不送红股，不以资本公积金转增股本。该预案尚需提交股东大会审议。",
            "鉴于公司正处于产能建设期，资金需求较大，董事会拟定本年度不进行利润分配，也不进行资本"
            "公积金转增股本。",
        ]
    )
    outlook = "五、未来发展展望\n" + p.one(
        [
            "下一年度，公司将继续聚焦主营业务，加快新产能建设，加大研发投入，积极开拓国内外市场。",
            "公司将围绕“稳增长、提质量”的目标，推进数字化转型，提升精细化管理水平。",
        ]
    )
    head = (
        f"证券代码：{code}　证券简称：{short}\n{company}\n{year}年年度报告摘要"
        if p.chance(0.6)
        else f"{company}{year}年年度报告（节选）"
    )
    statement = (
        "本公司董事会及全体董事保证本报告内容不存在任何虚假记载、误导性陈述或者重大遗漏，并对其"
        "内容的真实性、准确性和完整性承担法律责任。"
    )
    chosen = p.subset([ops, cash, risks, dividend, outlook], 2, 4)
    if ops not in chosen:
        chosen.insert(0, ops)
    pre = [statement] if p.chance(0.5) else []
    return "\n\n".join([head, *pre, *chosen])


# ---------------------------------------------------------------- 新闻短讯

ZH_NEWS = [
    {
        "headline": ("{镇}图书馆改造完成重新开放", "{镇名}镇图书馆“焕新”归来"),
        "body": [
            (
                "经过{月数}个月的改造，{镇}图书馆于{日期}重新对外开放。改造后新增了少儿阅览室，更换了"
                "照明设施，并加装了无障碍电梯。",
                "{日期}上午，闭馆改造了{月数}个月的{镇}图书馆重新迎来读者。新馆的少儿阅览室宽敞明亮，"
                "二楼也能乘电梯直达了。",
            ),
            "此次改造总投资约{万元}万元，由县财政拨款，当地群众和企业也自发捐款{捐款}万元。",
            (
                "“我们希望读者一走进来就觉得温暖。”在图书馆工作了{年数}年的馆长{人名}说，“闭馆期间，"
                "几乎每周都有人来问什么时候重新开门。”",
                "馆长{人名}介绍，开馆第一天最受欢迎的是新设的地方文献书架，“大家都想多了解自己生活的"
                "地方”。",
            ),
            "闭馆期间，图书馆在镇文化站设立了临时借阅点，每月借出图书约{借阅}册。",
            "重新开放后，工作日闭馆时间延长至晚上{几点}点，每周二、周四下午还开设了作业辅导班。",
            "下个月起，图书馆将为老年读者开设免费的智能手机使用培训，可在服务台报名。",
        ],
    },
    {
        "headline": ("{河}老桥将封闭维修{周数}周", "{镇名}老石桥启动维修 车辆需绕行"),
        "body": [
            (
                "{日期}起，{镇}横跨{河}的老石桥将封闭施工，预计持续{周数}周，期间禁止机动车通行。",
                "记者从县交通运输局获悉，{镇}的{河}老石桥将从{日期}开始封闭维修，工期约{周数}周。",
            ),
            (
                "去年冬季的检测发现，桥梁五个拱券中有两个基础部位的砂浆被洪水冲刷流失，县交通运输局"
                "表示，维修工作不能再拖。",
                "这座石拱桥已有近两百年历史。今年汛期过后，技术人员在桥墩底部发现了明显的冲刷痕迹，"
                "部分石块出现松动。",
            ),
            (
                "施工期间，过往车辆可经{邻镇}绕行，前往县城的车程将增加约{分钟}分钟。",
                "封闭期间，前往县城的车辆需绕道{邻镇}，单程多花{分钟}分钟左右，沿线已设置绕行指示牌。",
            ),
            (
                "行人和非机动车可以通过下游一侧搭建的临时便桥通行。",
                "为方便群众出行，施工方在下游搭建了一座钢便桥，行人和电动自行车可以照常过河。",
            ),
            (
                "“我们知道这会给大家带来不便，特别是河东的商户。”县交通运输局负责人{人名}说，“如果"
                "现在不修，以后封闭的时间会更长。”",
                "在桥头经营小吃店的{人名}说，封桥肯定会影响生意，但桥确实该修了。",
            ),
            "老桥建于{建桥年代}，是县级文物保护单位，维修将采用传统石灰砂浆和同类石材。",
        ],
    },
    {
        "headline": ("{学校}学生获全市青少年机器人竞赛一等奖", "{镇名}学子机器人比赛夺冠"),
        "body": [
            "在{日期}举行的全市青少年机器人竞赛中，{学校}代表队从{队数}支参赛队伍中脱颖而出，获得一等奖。",
            "参赛机器人由学生们利用课后时间历时{月数}个月制作完成，需要在三分钟内完成分拣彩色积木、"
            "爬坡并返回起点等任务。",
            "“最难的是爬坡，轮子我们前后改了四次。”{年龄}岁的队员{学生}说。",
            "指导老师{人名}介绍，学校的机器人兴趣小组最初只有六名学生，现在已经发展到三十多人。",
            "评委特别称赞了队伍的设计日志，里面详细记录了每一次改动及其原因。",
            "获奖队伍将代表本市参加{月份}月举行的省级比赛。",
        ],
    },
    {
        "headline": ("{镇}周末农贸市集开市", "{摊位}个摊位亮相 {镇名}农贸市集重新开张"),
        "body": [
            "本周{星期}，{镇}农贸市集在镇文化广场重新开市，{摊位}个摊位出售蔬菜、水果、米面、蜂蜜和花苗。",
            "这个由志愿者组织的市集已经办了{年数}年，最初只有八个摊位，如今吸引了周边多个乡镇的居民。",
            "市集规定，摊主出售的产品必须是自己在{公里}公里范围内种植、养殖或加工的。",
            (
                "“顾客喜欢直接问种菜的人是怎么种的。”在{邻镇}经营果园的{人名}说。",
                "在老宅里开了间手工面坊的{人名}说，有了这个市集，自己才下决心辞去工作专心做面。",
            ),
            "今年市集新设了一个公益维修摊，志愿者免费为居民修理小家电、磨剪刀。",
            "市集每周{星期}上午八点到十二点开放，附近可乘坐{公交}路公交车到达。",
        ],
    },
    {
        "headline": ("暴雨过后 {镇}居民合力清淤", "{镇}遭遇强降雨 灾后清理有序进行"),
        "body": [
            (
                "受强降雨影响，{镇}在不到{小时}小时内降雨量达{雨量}毫米，多处道路积水，部分树木倒伏。",
                "一场持续{小时}小时的暴雨给{镇}带来了{雨量}毫米的降水，镇区多条道路一度积水，"
                "不少行道树被风吹倒。",
            ),
            "{河}水位快速上涨，老街附近地势低洼处约{户数}户居民家中进水。",
            "所幸没有人员伤亡。消防救援人员从一辆在积水中熄火的汽车里救出两名被困人员。",
            "镇文化站连夜开设临时安置点，为转移群众提供热水和干净的衣物。",
            "“还没等我们开口，邻居们就拿着铁锹过来帮忙了。”家中一楼进水齐膝的{人名}说。",
            "镇政府提醒居民及时报告堵塞的排水沟和损毁的道路，受损家具可集中放在{街}的临时堆放点。",
            "据气象部门预报，未来一周以晴到多云天气为主。",
        ],
    },
    {
        "headline": ("{镇}开通直达县医院公交线路", "{公交}路公交{月份}月开通"),
        "body": [
            "连接{镇}与县人民医院、县高铁站的{公交}路公交线路将于{日期}正式开通。",
            (
                "该线路工作日每{间隔}分钟一班，周末每小时一班，首班车早上六点十五分从镇汽车站发出。",
                "新线路首班车六点十五分发车，工作日发车间隔{间隔}分钟，双休日为一小时一班。",
            ),
            "线路的设置参考了一项问卷调查，超过{问卷}名居民表示，没有私家车去医院看病是出行中最大的难题。",
            "全程票价{票价}元，六十五岁以上老人凭证免费乘车。",
            "“这是十多年来我们镇开通的第一条新线路。”县交通运输局的{人名}说。",
            "{邻镇}的部分居民希望线路在本村设站，交通部门表示将在运行半年后根据客流情况评估调整。",
        ],
    },
    {
        "headline": ("志愿者清理{河}河道垃圾{袋数}袋", "百名志愿者守护{河}"),
        "body": [
            "周{星期}上午，{志愿者}多名志愿者来到{河}{镇名}段，沿河岸清理垃圾。",
            "活动共清理出垃圾{袋数}袋，还有{物品}。",
            "这项活动由{组织}每年组织两次，该组织还在沿河五个点位定期监测水质。",
            "“塑料瓶最多，但每年总能发现一些意想不到的东西。”活动负责人{人名}说。",
            "{学校}的学生帮助对垃圾进行分类，尽可能回收利用。",
            "该组织每月第一个星期日开展活动，欢迎更多人加入，现场提供手套和垃圾夹。",
        ],
    },
]
ZH_ITEMS = [
    "两辆购物车、一个自行车架和一个交通锥",
    "一张长椅、几条旧轮胎和一辆儿童滑板车",
    "一块路牌、一根鱼竿和一把完好的雨伞",
]


def zh_news(p: Pick, names: ZhNames, kind: dict | None = None) -> str:
    kind = kind or p.one(ZH_NEWS)
    s = names.place_slots()
    s.update(
        月数=p.int(4, 18),
        日期=f"{p.int(1, 12)}月{p.int(1, 28)}日",
        万元=p.int(80, 1200),
        捐款=p.int(3, 60),
        年数=p.int(3, 26),
        借阅=p.int(300, 2200),
        几点=p.int(7, 8),
        周数=p.int(6, 26),
        分钟=p.int(8, 35),
        建桥年代=p.one(["清代道光年间", "清代乾隆年间", "明代万历年间", "民国初年"]),
        队数=p.int(9, 41),
        学生=names.person(),
        年龄=p.int(12, 17),
        月份=p.int(1, 12),
        星期=p.one(["六", "日"]),
        摊位=p.int(18, 64),
        公里=p.int(20, 50),
        公交=p.int(11, 96),
        小时=p.int(6, 30),
        雨量=p.int(45, 180),
        户数=p.int(12, 160),
        间隔=p.one([15, 20, 30]),
        问卷=p.int(400, 2600),
        票价=p.one(["2", "3", "5"]),
        志愿者=p.int(30, 180) // 10 * 10,
        袋数=p.int(40, 260),
        物品=p.one(ZH_ITEMS),
    )
    s["组织"] = p.one(
        [f"{s['河']}保护志愿者协会", f"{s['镇名']}镇环保志愿服务队", "县河湖保护协会"]
    )
    headline = fill(p.one(kind["headline"]), s)
    sentences = fill_all(p.some(kind["body"], 4, 6), s)
    paragraphs = []
    while sentences:
        n = p.int(1, 2)
        paragraphs.append("".join(sentences[:n]))
        sentences = sentences[n:]
    source = p.one(
        [
            f"本报讯（记者 {names.person()}）",
            f"来源：{s['县']}融媒体中心",
            f"通讯员 {names.person()}",
            "",
        ]
    )
    return "\n\n".join(x for x in [headline, source, *paragraphs] if x)


def zh_digest(p: Pick, names: ZhNames) -> str:
    """A longer document: a weekly round-up of several local news items."""
    numerals = "一二三四五六七八"
    items = []
    kinds = p.subset(ZH_NEWS, 4, 6)
    p.shuffle(kinds)
    for i, kind in enumerate(kinds):
        parts = zh_news(p, names, kind).split("\n\n")
        body = "".join(
            x for x in parts[1:] if not x.startswith(("本报讯", "通讯员")) and "来源" not in x
        )
        items.append(f"{numerals[i]}、{parts[0]}\n{body}")
    head = p.one(["本周县域新闻汇总", "一周要闻回顾", f"乡镇动态（第{p.int(3, 52)}期）"])
    return head + "\n\n" + "\n\n".join(items)


# ---------------------------------------------------------------- 散文

ZH_ESSAYS = [
    "外婆的腌菜坛子\n\n"
    "外婆家的灶屋角落里，常年摆着三只褐色的腌菜坛子。坛口有一圈水槽，扣上碗形的盖子，再往槽里注"
    "满清水，外面的空气就进不去了。小时候我总以为那圈水是用来养鱼的，还偷偷往里面放过一只小蝌蚪。\n\n"
    "每年深秋，雪里蕻收下来，外婆就开始忙碌。菜要先在竹竿上晾两天，晒得蔫了，才一棵棵洗净、切碎，"
    "一层菜撒一层盐，用拳头使劲压实。她说，压得越紧，腌出来的菜越香。我在旁边帮忙递盐，手指被盐粒"
    "蜇得生疼，却舍不得走开。\n\n"
    "封坛以后，就只剩下等待。外婆每隔几天会掀开盖子看看槽里的水，干了就添上。一个月后，坛子里飘出"
    "一股酸香，冬天的饭桌上便多了一碗雪菜炒肉丝，或者一锅雪菜豆腐汤。那是整个冬天最下饭的菜。\n\n"
    "后来外婆年纪大了，搬到城里和舅舅同住，那几只坛子也跟着去了，只是再没有装过菜。去年我回去看她，"
    "她指着阳台上的坛子说：“等开春了，你来，我教你腌。”我答应了。其实我知道，腌菜的方法网上都查得到，"
    "可我想学的，是她压菜时那一下一下的力气。",
    "夜行列车\n\n"
    "晚上九点多，列车驶出车站。城市的灯火渐渐稀疏，窗外只剩下一片漆黑的田野。车厢里的人们开始了夜车"
    "上特有的仪式：有人拿出牙刷去洗漱，有人把外套叠成枕头，有人向推车的乘务员买最后一杯热茶。\n\n"
    "我的卧铺在一个四人包厢里。同行的有一位去看孙子的退休老教师，一个背着巨大登山包的大学生，还有一位"
    "穿西装的中年人，他一躺下就睡着了，一直到天亮都没翻过身。我们简单寒暄了几句，便默契地关了灯。\n\n"
    "火车上的睡眠是断断续续的。车厢轻轻摇晃，车轮压过钢轨接缝，发出有节奏的声响。偶尔列车在某个小站"
    "停下，站名我始终没有看清。站台的灯光从窗帘缝里滑过，远处响起一声哨音，车又开动了。\n\n"
    "五点钟左右，我干脆起身站到过道里。窗外的景色已经完全不同：起伏的山丘间浮着薄雾，零星的农舍亮着"
    "一盏灯。一只白鹭从水田里飞起。老教师也走了出来，我们并肩站着，看着天色从灰白慢慢变成淡黄。\n\n"
    "列车到站时，大家收拾行李，带着几分看过彼此睡相的腼腆，在站台上道别，像老朋友一样。坐夜车的旅程，"
    "总让人觉得是一次小小的冒险。",
    "学骑自行车\n\n"
    "我是十岁那年的暑假学会骑自行车的。那辆车是父亲从单位同事那里买来的旧车，车把上的漆掉了一大块，"
    "链条一转就嘎吱作响。父亲把车座降到最低，又在后座绑了一根木棍，说：“我在后面扶着，你只管往前骑。”\n\n"
    "头几天，我总是骑不了几米就歪倒在路边，膝盖上摔出一块块青紫。父亲并不着急，每次都把车扶起来，"
    "让我再试一次。他告诉我，眼睛要看前面，不要看脚下，车子会往你看的地方走。\n\n"
    "大约一个星期后的傍晚，我骑着骑着，觉得车子格外平稳，回头一看，父亲早已松开了手，站在远处的槐树"
    "下朝我挥手。那一刻，我既得意又害怕，车头一晃，又摔进了路边的草丛里。\n\n"
    "如今我也在教女儿骑车。她的车是新的，还带着两个辅助轮。可我还是学着父亲的样子，在后座上扶着，"
    "一边跑一边说：“看前面，别看脚下。”说着说着，我就悄悄松开了手。",
    "城中菜园的第一年\n\n"
    "去年春天，我们在小区后面的闲置地块上认领了一小块菜地。地里长满了齐腰高的杂草，还有不少碎砖头，"
    "看上去很久没有人打理过了。\n\n"
    "开荒花了整整一个春天。每个周末，我们都用锄头一点点翻地，把草根和石块捡出来。最难对付的是一种"
    "根系发达的野草，白色的根在土里盘根错节，只能耐着性子一根根往外拽。翻地的时候，我们还挖出了一把"
    "生锈的铁锹和一丛顽强的韭菜，割了一茬又长一茬。\n\n"
    "隔壁地块的老人们很乐意传授经验，只是说法常常互相矛盾。有人说新开的地先种土豆，能把土养松；有人"
    "说土豆占地方，不划算。我们最后还是种了土豆，到了夏天果然收了满满两筐，吃都吃不完。\n\n"
    "当然也有失败。头两茬生菜被蜗牛啃得精光，豆角种晚了，胡萝卜长得分了叉，还有一只斑鸠专门盯着我们"
    "的小白菜。倒是西葫芦一如既往地高产，到了九月，邻居们看见我们拎着袋子过来，都忍不住笑着摆手。\n\n"
    "一年下来，这块地总算有了菜园的样子。我们用旧木托盘搭了一个堆肥箱，在工具棚下接了一只雨水桶，还"
    "列了一张“明年要改进的事项”清单。我想，这张清单才是第一年真正的收获。",
    "一张纸质地图\n\n"
    "现在出门，手机导航能告诉我们身在何处、该往哪里走，大多数时候这已经足够了。可每次去山里徒步，"
    "我还是会在背包里放一张纸质地图。\n\n"
    "最直接的原因是可靠。手机会没电，会没有信号，也不太经得起雨淋。而一张装在防水袋里的地图，无论刮风"
    "下雨、天寒地冻，还是身处信号到不了的山谷，都能照常使用。\n\n"
    "更重要的是视野。手机屏幕只显示一小块区域，而且只给出它替你选好的路线。纸质地图却把周围的整片"
    "地形一下子铺在眼前：天气转好时可以走的那条山脊，前面需要蹚过的溪流，同伴累了可以抄近路下山的那条"
    "机耕道。它让人自己做判断，而不只是听从指令。\n\n"
    "还有一点不太好说清楚。看等高线，把纸上的山形和眼前的山对应起来，发现两者对不上时及时停下，这些"
    "本领都是越练越熟的。习惯看地图的人，往往记得自己走过哪里，记得山峰的名字和山谷的走向，风景在他们"
    "心里是一片连贯的土地，而不是一连串的“前方路口左转”。\n\n"
    "这并不是说不要用手机。两样都带上吧。只是最好在天气好、风险低的时候先学会看地图，这样等到真正需要"
    "它的那一天，它就是一位老朋友，而不是一道难题。",
]


# ---------------------------------------------------------------- 唐诗（公有领域）

ZH_POEMS = [
    (
        "静夜思",
        "李白",
        "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
        "这首诗语言平白如话，写游子在月夜里思念家乡，是流传最广的唐诗之一。",
    ),
    (
        "春晓",
        "孟浩然",
        "春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。",
        "诗人从清晨的鸟鸣写起，又由昨夜的风雨想到落花，短短二十个字里有喜春也有惜春。",
    ),
    (
        "登鹳雀楼",
        "王之涣",
        "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。",
        "后两句常被用来勉励人们不断进取，站得更高才能看得更远。",
    ),
    (
        "相思",
        "王维",
        "红豆生南国，春来发几枝。\n愿君多采撷，此物最相思。",
        "红豆又名相思子，诗人借物寄情，写得含蓄而深长。",
    ),
    (
        "江雪",
        "柳宗元",
        "千山鸟飞绝，万径人踪灭。\n孤舟蓑笠翁，独钓寒江雪。",
        "前两句写天地的空寂，后两句写一位独自垂钓的老翁，画面清冷，意境孤高。",
    ),
    (
        "鹿柴",
        "王维",
        "空山不见人，但闻人语响。\n返景入深林，复照青苔上。",
        "诗人以声写静、以光写暗，描绘了山林傍晚的幽静。",
    ),
    (
        "悯农（其二）",
        "李绅",
        "锄禾日当午，汗滴禾下土。\n谁知盘中餐，粒粒皆辛苦。",
        "这首诗写农民在烈日下劳作的艰辛，常被用来教育孩子珍惜粮食。",
    ),
    (
        "咏鹅",
        "骆宾王",
        "鹅，鹅，鹅，曲项向天歌。\n白毛浮绿水，红掌拨清波。",
        "相传这首诗是骆宾王七岁时所作，色彩鲜明，声韵活泼。",
    ),
    (
        "登乐游原",
        "李商隐",
        "向晚意不适，驱车登古原。\n夕阳无限好，只是近黄昏。",
        "“夕阳无限好，只是近黄昏”两句，后来常被用来感叹美好事物的短暂。",
    ),
    (
        "寻隐者不遇",
        "贾岛",
        "松下问童子，言师采药去。\n只在此山中，云深不知处。",
        "全诗以问答写成，寥寥数语，写出了隐者的高洁和山中云雾的缥缈。",
    ),
    (
        "望庐山瀑布",
        "李白",
        "日照香炉生紫烟，遥看瀑布挂前川。\n飞流直下三千尺，疑是银河落九天。",
        "诗人用夸张和想象描写庐山瀑布的壮观，“飞流直下三千尺”一句尤为人所称道。",
    ),
    (
        "早发白帝城",
        "李白",
        "朝辞白帝彩云间，千里江陵一日还。\n两岸猿声啼不住，轻舟已过万重山。",
        "全诗节奏轻快，写出了顺流而下、一日千里的畅快心情。",
    ),
    (
        "赋得古原草送别",
        "白居易",
        "离离原上草，一岁一枯荣。\n野火烧不尽，春风吹又生。\n远芳侵古道，晴翠接荒城。\n又送王孙去，萋萋满别情。",
        "“野火烧不尽，春风吹又生”写出了野草顽强的生命力，是千古传诵的名句。",
    ),
    (
        "黄鹤楼送孟浩然之广陵",
        "李白",
        "故人西辞黄鹤楼，烟花三月下扬州。\n孤帆远影碧空尽，唯见长江天际流。",
        "诗人目送友人的帆影消失在天边，离别之情都寄托在滚滚东去的江水之中。",
    ),
    (
        "枫桥夜泊",
        "张继",
        "月落乌啼霜满天，江枫渔火对愁眠。\n姑苏城外寒山寺，夜半钟声到客船。",
        "这首诗使苏州城外的寒山寺声名远扬，夜半的钟声写尽了旅人的愁绪。",
    ),
    (
        "凉州词",
        "王之涣",
        "黄河远上白云间，一片孤城万仞山。\n羌笛何须怨杨柳，春风不度玉门关。",
        "诗作描绘了边塞的辽阔苍凉，抒发了戍边将士的思乡之情。",
    ),
    (
        "九月九日忆山东兄弟",
        "王维",
        "独在异乡为异客，每逢佳节倍思亲。\n遥知兄弟登高处，遍插茱萸少一人。",
        "此诗相传作于王维十七岁时，“每逢佳节倍思亲”至今仍是人们常用的句子。",
    ),
    (
        "游子吟",
        "孟郊",
        "慈母手中线，游子身上衣。\n临行密密缝，意恐迟迟归。\n谁言寸草心，报得三春晖。",
        "诗人借母亲为远行的儿子缝衣这一细节，歌颂了深厚的母爱。",
    ),
    (
        "春夜喜雨",
        "杜甫",
        "好雨知时节，当春乃发生。\n随风潜入夜，润物细无声。\n野径云俱黑，江船火独明。\n晓看红湿处，花重锦官城。",
        "诗人以拟人的手法写春雨，“润物细无声”一句常被用来比喻潜移默化的教育。",
    ),
    (
        "绝句",
        "杜甫",
        "两个黄鹂鸣翠柳，一行白鹭上青天。\n窗含西岭千秋雪，门泊东吴万里船。",
        "四句各写一景，色彩明丽，对仗工整，像一幅展开的山水画。",
    ),
]


def zh_poem(p: Pick, title: str, author: str, text: str, note: str) -> str:
    head = p.one([f"{title}\n唐·{author}", f"《{title}》（唐）{author}", f"{title}　{author}"])
    if p.chance(0.75):
        return f"{head}\n\n{text}\n\n{p.one(['赏析：', '简析：', '', ''])}{note}"
    return f"{head}\n\n{text}"


# =========================================================================== planting

EN_EMAILS = [
    "alice@example.org",
    "bob.smith@example.com",
    "c.okafor@mail.example.net",
    "bookings@riverside-health.example",
    "j.marsden@example.org",
    "planning.office@example.gov.test",
]
EN_PHONES = [
    "(202) 555-0147",
    "+1 415 555 0132",
    "020 7946 0018",
    "+44 20 7946 0991",
    "07700 900461",
    "555-0199",
]
ZH_EMAILS = ["zhangwei@example.com", "service@example.org", "li.na@mail.example.net"]
ZH_PHONES = ["13800138000", "138-0013-8000", "+86 138 0013 8000"]
IPV4 = ["192.0.2.17", "198.51.100.23", "203.0.113.5", "192.0.2.200", "203.0.113.77"]
IPV6 = ["2001:db8::42", "2001:db8:85a3::8a2e:370:7334", "2001:db8:0:1::1"]

# (kind, template, genres it reads naturally in)
EN_PII = [
    (
        "email+phone",
        "For more information, contact {name} at {email} or call {phone}.",
        ("news", "health"),
    ),
    ("email", "Questions about this notice can be sent to {email}.", ("news", "filing")),
    (
        "phone",
        "Appointments can be booked by phone on {phone} between 8 a.m. and 6 p.m.",
        ("health",),
    ),
    ("card", "The deposit of £250 was paid by card number {card}, expiry 09/27.", ("case",)),
    (
        "card",
        "According to the statement, payment was taken from card {card} on the same day.",
        ("case",),
    ),
    (
        "iban",
        "Payments should be made by bank transfer to IBAN {iban}, quoting the invoice number.",
        ("filing", "case"),
    ),
    (
        "ip",
        "Access logs show repeated failed logins from {ipv4} in the early hours.",
        ("news", "filing"),
    ),
    (
        "ip",
        "The booking server at {ipv4} went offline at 02:14; traffic moved to the standby host "
        "at {ipv6} within the hour.",
        ("health", "news"),
    ),
    (
        "email+phone+iban",
        "Contact: {name}, {email}, tel. {phone}. Bank details for refunds: {iban}.",
        ("case", "filing"),
    ),
]
ZH_PII = [
    ("email+phone", "如有疑问，请联系{人名}，电话{手机}，邮箱{email}。", ("news", "health")),
    ("cn_id+phone", "申请人：{人名}，身份证号码：{身份证}，联系电话：{手机}。", ("case",)),
    ("cn_id", "经核实，当事人{人名}（公民身份号码{身份证}）对上述事实无异议。", ("case",)),
    ("card", "经查，付款人使用的银行卡号为{card}。", ("case",)),
    ("iban", "境外客户请汇款至以下账户，IBAN：{iban}，汇款时请注明合同编号。", ("filing",)),
    ("ip", "系统日志显示，异常访问来自IP地址{ipv4}，随后又有来自{ipv6}的请求。", ("filing",)),
    ("email", "欢迎读者来信来稿，投稿邮箱：{email}。", ("news",)),
    ("phone", "预约咨询电话：{手机}（工作日9:00—17:00）。", ("health", "news")),
]
EN_URLS = [
    "More details are available at https://www.example.org/notices/{slug}.",
    "The full text is published at http://example.com/reports/{year}/summary.html",
    "Read the full judgment at https://courts.example.net/judgments/{slug}?lang=en",
    "Source: https://news.example.com/{year}/{slug}",
    "See www.example.org/{slug} for opening times.",
]
ZH_URLS = [
    "详情请见 https://www.example.com/notice/{n}.html",
    "查看原文：http://news.example.org/article?id={n}",
    "更多信息请访问 www.example.net/{n}",
    "来源链接：https://m.example.com/s/{n}",
]
EN_BOILER = [
    "Home | News | Sport | Weather | Contact us",
    "Share this article: Facebook Twitter Email Print",
    "© 2023 Valley Gazette. All rights reserved.",
    "We use cookies to improve your experience. [Accept] [Decline]",
    "Advertisement",
    "Click here to subscribe to our newsletter!",
    '<div class="ad-slot"></div>&nbsp;&nbsp;',
    "Skip to main content",
]
ZH_BOILER = [
    "首页 | 新闻 | 图片 | 视频 | 联系我们",
    "【广告】点击领取优惠券！！！",
    "转发 | 评论 | 点赞 | 收藏",
    "版权所有 © 2023 示例传媒 保留所有权利",
    "扫码关注公众号，获取更多资讯",
    "点击阅读全文>>",
    "<p>&nbsp;</p><br/>",
    "责任编辑：小编",
]
SYMBOLS = "#$%&*@!~^+=<>|/\\{}[]_-:;?"
ZH_SYMBOLS = "▓▒░■□◆◇★☆※→←↑↓…—～·"


def symbol_soup(p: Pick, n: int, alphabet: str) -> str:
    return "".join(p.one(alphabet) for _ in range(n))


def mojibake(text: str, lang: str) -> str:
    raw = text.encode("utf-8")
    return raw.decode("cp1252" if lang == "en" else "gbk", errors="replace")


def split_paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def trim(text: str, limit: int = MAX_CHARS) -> str:
    parts = split_paragraphs(text)
    while len("\n\n".join(parts)) > limit and len(parts) > 2:
        parts.pop()
    return "\n\n".join(parts)[:limit]


class Corpus:
    """Documents with ids; plants refer to ids and become line numbers at the end."""

    def __init__(self, lang: str, p: Pick) -> None:
        self.lang = lang
        self.p = p
        self.docs: list[dict] = []

    def add(self, text: str, genre: str, plants: list | None = None) -> dict:
        doc = {"id": len(self.docs), "text": text, "genre": genre, "plants": plants or []}
        self.docs.append(doc)
        return doc

    def pick_docs(self, n: int, genres: tuple[str, ...], min_len: int = 300) -> list[dict]:
        pool = [
            d
            for d in self.docs
            if d["genre"] in genres and not d["plants"] and len(d["text"]) >= min_len
        ]
        return self.p.subset(pool, min(n, len(pool)), min(n, len(pool)))


def insert_paragraph(p: Pick, text: str, extra: str, where: str = "any") -> str:
    parts = split_paragraphs(text)
    if where == "end":
        idx = len(parts)
    elif where == "start":
        idx = 0
    else:
        idx = p.int(1, len(parts))
    parts.insert(idx, extra)
    return "\n\n".join(parts)


def append_sentence(p: Pick, text: str, sentence: str, lang: str) -> str:
    parts = split_paragraphs(text)
    i = p.int(1, len(parts) - 1) if len(parts) > 1 else 0
    sep = " " if lang == "en" else ""
    parts[i] = parts[i] + sep + sentence
    return "\n\n".join(parts)


EN_SWAPS = [
    ("about", "around"),
    ("small", "little"),
    ("large", "big"),
    ("said", "says"),
    ("the town", "the village"),
    ("roughly", "approximately"),
    ("between", "among"),
]
ZH_SWAPS = [
    ("约", "大约"),
    ("，", ","),
    ("。", "."),
    ("公司", "企业"),
    ("居民", "群众"),
    ("已经", "已"),
]


def near_duplicate(p: Pick, text: str, lang: str) -> tuple[str, list[str]]:
    """One or two small edits that keep the text over ~90% similar."""
    edits: list[str] = []
    out = text
    for _ in range(p.int(1, 2)):
        kind = p.one(["number", "swap", "whitespace", "trailer", "drop_sentence"])
        if kind == "number":
            m = re.search(r"\d+", out)
            if m:
                new = str(int(m.group()) + p.int(1, 9))
                out = out[: m.start()] + new + out[m.end() :]
                edits.append(f"changed the number {m.group()} to {new}")
                continue
            kind = "swap"
        if kind == "swap":
            swaps = [s for s in (EN_SWAPS if lang == "en" else ZH_SWAPS) if s[0] in out]
            if swaps:
                a, b = p.one(swaps)
                out = out.replace(a, b, 1 if lang == "en" else 3)
                edits.append(f"replaced {a!r} with {b!r}")
                continue
            kind = "whitespace"
        if kind == "drop_sentence":
            stop = ". " if lang == "en" else "。"
            sentences = out.split(stop)
            if len(sentences) > 8:
                i = p.int(2, len(sentences) - 3)
                del sentences[i]
                out = stop.join(sentences)
                edits.append("removed one sentence")
                continue
            kind = "whitespace"
        if kind == "whitespace":
            out = out.replace("\n\n", "\n\n\n", 1).replace(" ", "  ", 2) + "\n"
            edits.append("added blank lines and double spaces")
            continue
        trailer = p.one(EN_BOILER if lang == "en" else ZH_BOILER)
        out = out + "\n\n" + trailer
        edits.append(f"appended {trailer!r}")
    return out, edits


def plant_pii(c: Corpus, n: int, genres: tuple[str, ...]) -> None:
    p, lang = c.p, c.lang
    ids = fake_cn_ids(p, 5)
    used: dict[str, int] = {}
    for doc in c.pick_docs(n, genres, min_len=200):
        fitting = [t for t in (EN_PII if lang == "en" else ZH_PII) if doc["genre"] in t[2]]
        kind, template, _ = p.one(fitting)
        pools = {
            "email": EN_EMAILS if lang == "en" else ZH_EMAILS,
            "phone": EN_PHONES,
            "手机": ZH_PHONES,
            "card": TEST_CARDS,
            "iban": EXAMPLE_IBANS,
            "ipv4": IPV4,
            "ipv6": IPV6,
            "身份证": ids,
        }
        slots = {"name": EnNames(p).person(), "人名": ZhNames(p).person()}
        for key, pool in pools.items():  # round robin, so that every value shows up
            slots[key] = pool[used.get(key, 0) % len(pool)]
            if "{" + key + "}" in template:
                used[key] = used.get(key, 0) + 1
        sentence = fill(template, slots)
        values = []
        for key, label in [
            ("email", "email"),
            ("phone", "phone"),
            ("手机", "phone"),
            ("card", "card"),
            ("iban", "iban"),
            ("ipv4", "ipv4"),
            ("ipv6", "ipv6"),
            ("身份证", "cn_resident_id"),
        ]:
            if "{" + key + "}" in template:
                values.append({"type": label, "value": slots[key]})
        doc["text"] = append_sentence(p, doc["text"], sentence, lang)
        doc["plants"].append({"kind": "pii", "template": kind, "values": values})


def plant_negative_card(c: Corpus) -> None:
    p = c.p
    doc = c.pick_docs(1, ("case", "filing"))[0]
    sentence = (
        f"The order reference {BAD_CARD} printed on the receipt is not a payment card number."
        if c.lang == "en"
        else f"收据上的订单编号为{BAD_CARD}，并非银行卡号。"
    )
    doc["text"] = append_sentence(p, doc["text"], sentence, c.lang)
    doc["plants"].append(
        {"kind": "not_pii", "note": "16 digits that fail the Luhn check", "value": BAD_CARD}
    )


def plant_urls(c: Corpus, n: int) -> None:
    p = c.p
    for doc in c.pick_docs(n, ("news", "case", "filing", "health", "town", "entry")):
        if c.lang == "en":
            slug = "-".join(re.findall(r"[a-z]+", doc["text"][:60].lower())[:4]) or "notice"
            line = fill(p.one(EN_URLS), {"slug": slug, "year": p.int(2018, 2024)})
        else:
            line = fill(p.one(ZH_URLS), {"n": p.int(1000, 99999)})
        doc["text"] = insert_paragraph(p, doc["text"], line, "end")
        url = re.search(r"(https?://|www\.)\S+?(?=[.,]?$)", line)
        doc["plants"].append({"kind": "url", "value": url.group() if url else line})


def plant_junk_lines(c: Corpus, n: int) -> None:
    p, lang = c.p, c.lang
    boiler = EN_BOILER if lang == "en" else ZH_BOILER
    for doc in c.pick_docs(n, ("news", "entry", "town", "health", "case")):
        kind = p.one(["boilerplate", "repeated_line", "symbol_line", "mojibake", "html"])
        text = doc["text"]
        if kind == "boilerplate":
            text = insert_paragraph(p, text, p.one(boiler), "start")
            text = insert_paragraph(p, text, "\n".join(p.subset(boiler, 2, 3)), "end")
        elif kind == "repeated_line":
            line = p.one(boiler[4:])
            text = insert_paragraph(p, text, "\n".join([line] * p.int(5, 9)), "end")
        elif kind == "symbol_line":
            soup = symbol_soup(p, p.int(30, 90), SYMBOLS if lang == "en" else ZH_SYMBOLS + SYMBOLS)
            text = insert_paragraph(p, text, soup)
        elif kind == "mojibake":
            parts = split_paragraphs(text)
            i = p.int(1, len(parts) - 1) if len(parts) > 1 else 0
            parts[i] = mojibake(parts[i], lang)
            text = "\n\n".join(parts)
        else:
            html = (
                '<p class="lead">&nbsp;</p><script>var ad = 1;</script>'
                if lang == "en"
                else "<div>&nbsp;</div><span style='color:red'>热门推荐</span>"
            )
            text = insert_paragraph(p, text, html)
        doc["text"] = text
        doc["plants"].append({"kind": "junk_lines", "junk": kind})


def plant_junk_docs(c: Corpus) -> None:
    p, lang = c.p, c.lang
    boiler = EN_BOILER if lang == "en" else ZH_BOILER
    symbols = SYMBOLS if lang == "en" else ZH_SYMBOLS + SYMBOLS
    docs = [
        ("symbol_soup", symbol_soup(p, p.int(120, 300), symbols)),
        ("symbol_soup", "\n".join(symbol_soup(p, p.int(20, 60), symbols) for _ in range(6))),
        ("keyboard_mash", "asdf asdf qwer qwer zxcv asdfgh jkl; asdf asdf qwerty qwerty 1234 1234"),
        ("tiny", "test" if lang == "en" else "测试"),
        ("tiny", "Click here" if lang == "en" else "点击这里"),
        ("tiny", "ok ok ok" if lang == "en" else "好的好的"),
        ("navigation_only", "\n".join(boiler)),
        ("repeated_line", "\n".join([boiler[5]] * 30)),
        (
            "numbers_only",
            "\n".join(
                " ".join(f"{p.int(0, 999)}.{p.int(0, 99):02d}" for _ in range(8)) for _ in range(12)
            ),
        ),
    ]
    for kind, text in docs:
        c.add(text, "junk", [{"kind": "junk_document", "junk": kind}])
    # The first 600 characters of a real document, UTF-8 bytes read as cp1252 (en) or
    # GBK (zh); in English only the non-ASCII characters change, so it is also a
    # near-duplicate of its source.
    src = c.pick_docs(1, ("news", "entry", "digest"), min_len=700 if lang == "en" else 250)[0]
    plant_ = {"kind": "junk_document", "junk": "mojibake_document", "of": src["id"]}
    c.add(mojibake(src["text"][:600], lang), "junk", [plant_])


def plant_duplicates(c: Corpus, exact: int, near: int) -> None:
    p = c.p
    genres = ("news", "case", "filing", "town", "entry", "health", "essay")
    sources = c.pick_docs(exact + near, genres, min_len=700 if c.lang == "en" else 300)
    for k, src in enumerate(sources):
        if k < exact:
            for _ in range(2 if k < 2 else 1):
                c.add(src["text"], src["genre"], [{"kind": "exact_duplicate", "of": src["id"]}])
        else:
            text, edits = near_duplicate(p, src["text"], c.lang)
            c.add(text, src["genre"], [{"kind": "near_duplicate", "of": src["id"], "edits": edits}])


def build_en(p: Pick) -> Corpus:
    c = Corpus("en", p)
    names = EnNames(p)
    for _ in range(100):
        c.add(trim(en_town(p, names)), "town")
    for title, body in EN_ENTRIES:
        c.add(en_entry(p, title, body), "entry")
    for topic in EN_HEALTH:
        for _ in range(2):
            c.add(en_health(p, topic), "health")
    for _ in range(80):
        c.add(trim(en_case(p, names)), "case")
    for _ in range(80):
        c.add(trim(en_filing(p, names)), "filing")
    for _ in range(150):
        c.add(trim(en_news(p, names)), "news")
    for essay in EN_ESSAYS:
        c.add(essay, "essay")
    return c


def build_zh(p: Pick) -> Corpus:
    c = Corpus("zh", p)
    names = ZhNames(p)
    for _ in range(100):
        c.add(trim(zh_town(p, names)), "town")
    for title, body in ZH_ENTRIES:
        c.add(zh_entry(p, title, body), "entry")
    for topic in ZH_HEALTH:
        for _ in range(2):
            c.add(zh_health(p, topic), "health")
    for _ in range(80):
        c.add(trim(zh_case(p, names)), "case")
    for _ in range(80):
        c.add(trim(zh_filing(p, names)), "filing")
    for _ in range(150):
        c.add(trim(zh_news(p, names)), "news")
    for _ in range(14):
        c.add(trim(zh_digest(p, names)), "digest")
    for essay in ZH_ESSAYS:
        c.add(essay, "essay")
    for poem in ZH_POEMS:
        c.add(zh_poem(p, *poem), "poem")
    return c


def plant(c: Corpus) -> None:
    plant_pii(c, 36, ("news", "case", "filing", "health"))
    plant_negative_card(c)
    plant_urls(c, 24)
    plant_junk_lines(c, 20)
    plant_duplicates(c, exact=14, near=16)
    plant_junk_docs(c)


def swap_languages(en: Corpus, zh: Corpus) -> None:
    """A few documents in the other language, for a language-identification filter."""
    moved_zh = zh.pick_docs(3, ("news", "entry"), min_len=100)
    moved_en = en.pick_docs(3, ("news", "entry"), min_len=100)
    for d in moved_zh:
        en.add(d["text"], d["genre"], [{"kind": "other_language", "language": "zh"}])
    for d in moved_en:
        zh.add(d["text"], d["genre"], [{"kind": "other_language", "language": "en"}])


def render(c: Corpus) -> tuple[str, dict]:
    order = list(range(len(c.docs)))
    c.p.shuffle(order)
    line_of = {doc_id: i + 1 for i, doc_id in enumerate(order)}
    lines, items = [], []
    counts: dict[str, int] = {}
    for i, doc_id in enumerate(order):
        doc = c.docs[doc_id]
        lines.append(json.dumps({"text": doc["text"]}, ensure_ascii=False))
        for plant_ in doc["plants"]:
            item = {"line": i + 1, **plant_}
            if "of" in item:
                item["of_line"] = line_of[item.pop("of")]
            items.append(item)
            counts[plant_["kind"]] = counts.get(plant_["kind"], 0) + 1
    body = "\n".join(lines) + "\n"
    lengths = sorted(len(d["text"]) for d in c.docs)
    genres: dict[str, int] = {}
    for d in c.docs:
        genres[d["genre"]] = genres.get(d["genre"], 0) + 1
    meta = {
        "documents": len(c.docs),
        "bytes": len(body.encode("utf-8")),
        "characters": sum(lengths),
        "chars_min": lengths[0],
        "chars_median": lengths[len(lengths) // 2],
        "chars_max": lengths[-1],
        "genres": dict(sorted(genres.items())),
        "planted_counts": dict(sorted(counts.items())),
        "planted": items,
    }
    return body, meta


def build() -> dict[str, str]:
    en = build_en(Pick(SEED))
    zh = build_zh(Pick(SEED + 1))
    swap_languages(en, zh)
    plant(en)
    plant(zh)
    en_body, en_meta = render(en)
    zh_body, zh_meta = render(zh)
    planted = {
        "generator": "data/sample/build.py",
        "seed": SEED,
        "note": "1-based line numbers in en.jsonl / zh.jsonl; all planted personal data is fake",
        "en": en_meta,
        "zh": zh_meta,
    }
    return {
        "en.jsonl": en_body,
        "zh.jsonl": zh_body,
        "planted.json": json.dumps(planted, ensure_ascii=False, indent=1) + "\n",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify the files on disk, write none")
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to me)")
    args = ap.parse_args(argv)
    files = build()
    if args.check:
        stale = [
            name
            for name, body in files.items()
            if not (args.out / name).exists() or (args.out / name).read_bytes() != body.encode()
        ]
        for name in stale:
            print(f"{name}: differs from what build.py generates", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (args.out / name).write_bytes(body.encode("utf-8"))
        print(f"wrote {args.out / name} ({len(body.encode('utf-8')):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
