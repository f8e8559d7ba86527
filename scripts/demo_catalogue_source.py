"""Hand-written source of the bundled demo catalogue (read by ``build_demo_data.py``).

Every name, tasting note and descriptor here is original content written by the
Taste2Vec authors for the demo (MIT). Roasters are fictional. Nothing is copied
or paraphrased from Coffee Review or any other licensed source.

Each entry is ``(name, roaster, origin_country, region, process, varieties,
roast_level, (acidity, sweetness, bitterness, body, overall), stock,
descriptors, roaster_notes)``. The five core numbers are the sensory profile the
notes describe; ``build_demo_data.py`` derives the remaining catalogue metrics
(aroma, flavor, aftertaste, balance, clean_cup, astringency, roast_agtron) from
them deterministically.
"""

from __future__ import annotations

# --- roasters (fictional). Korean: Seoul, Busan, Jeju. Elsewhere: US, UK, AU, DE.
HANBIT = "Hanbit Coffee Roasters"  # Seoul, Seongsu-dong: light-roast specialist
NAMSAN = "Namsan Craft Coffee"  # Seoul, Huam-dong
SEOCHON = "Seochon Slow Roast"  # Seoul, Seochon: darker, kissaten-style hand drip
DALMAJI = "Dalmaji Hill Roasters"  # Busan, Haeundae
YEONGDO = "Yeongdo Harbour Coffee"  # Busan, Yeongdo
JEJU = "Jeju Basalt Roasters"  # Jeju-si
NORTHFIELD = "Northfield Roasting Co."  # Minneapolis
COPPER = "Copper Kettle Coffee"  # Bristol
FINCH = "Little Finch Roastery"  # Melbourne
RIDGELINE = "Ridgeline Coffee Works"  # Portland
EMBER = "Ember & Oak Roasters"  # Chicago: dark-roast house
ALTBAU = "Altbau Kaffeerösterei"  # Berlin

Profile = tuple[float, float, float, float, float]
Entry = tuple[str, str, str | None, str | None, str, list[str], str, Profile, int, list[str], str]

# fmt: off
CATALOGUE: list[Entry] = [
    # ------------------------------------------------------------------ Ethiopia
    (
        "Konga Washed Yirgacheffe", HANBIT, "Ethiopia", "Yirgacheffe (Gedeo)", "washed",
        ["Kurume", "Wolisho"], "light", (8.6, 7.4, 1.6, 4.2, 9.0), 180,
        ["jasmine", "bergamot", "lemon zest", "white peach", "black tea"],
        "재스민과 베르가못 향이 먼저 피어오르고, 레몬 제스트 같은 산미가 깔끔하게 이어집니다. "
        "식을수록 백도와 꿀의 단맛이 또렷해지며, 홍차처럼 가볍고 섬세한 질감으로 마무리됩니다.",
    ),
    (
        "Chelbesa Washed Gedeb", ALTBAU, "Ethiopia", "Gedeb, Yirgacheffe", "washed",
        ["Kurume", "Wolisho"], "light", (8.8, 7.2, 1.5, 4.0, 9.1), 140,
        ["honeysuckle", "orange blossom", "apricot", "lime", "lemongrass"],
        "A lifted, almost perfumed cup: honeysuckle and orange blossom on the nose, then a "
        "lime-and-apricot acidity that sparkles like a spritz. The finish is long and tea-like, "
        "with a whisper of lemongrass and raw honey.",
    ),
    (
        "Worka Sakaro Washed", NORTHFIELD, "Ethiopia", "Gedeb, Yirgacheffe", "washed",
        ["74110", "74112"], "medium-light", (7.6, 7.6, 2.2, 5.0, 8.7), 260,
        ["nectarine", "candied lemon", "chamomile", "demerara"],
        "Ripe nectarine and candied lemon peel over a backbone of demerara sugar. A slightly "
        "longer development rounds the florals into something closer to chamomile, and the cup "
        "stays silky and clean to the last sip.",
    ),
    (
        "Guji Hambela Natural", DALMAJI, "Ethiopia", "Guji (Hambela)", "natural",
        ["Ethiopian landrace"], "light", (7.2, 8.4, 2.2, 6.2, 8.9), 210,
        ["blueberry", "strawberry jam", "red wine", "dark chocolate"],
        "잘 익은 블루베리와 딸기잼 같은 단맛이 입안을 가득 채웁니다. 레드와인 같은 발효감이 "
        "은은하게 감돌고, 다크초콜릿 같은 여운이 길게 남습니다.",
    ),
    (
        "Shakiso Natural Guji", FINCH, "Ethiopia", "Guji (Shakiso)", "natural",
        ["Ethiopian landrace"], "light", (7.0, 8.5, 2.0, 6.5, 8.8), 320,
        ["blueberry", "mango", "rosé", "cocoa nib", "dried strawberry"],
        "Jammy and exuberant: blueberry compote, mango and a splash of rosé, held together by a "
        "cocoa-nib bass note. Syrupy in the cup, with a finish that lingers like dried "
        "strawberries.",
    ),
    (
        "Uraga Natural", RIDGELINE, "Ethiopia", "Guji (Uraga)", "natural",
        ["Ethiopian landrace"], "medium-light", (6.8, 8.2, 2.4, 6.4, 8.6), 275,
        ["papaya", "passionfruit", "wildflower honey", "rum raisin"],
        "Tropical and sticky-sweet: think papaya, passionfruit and a drizzle of wildflower honey. "
        "A gentle boozy edge recalls rum-soaked raisins, balanced by a soft, creamy body.",
    ),
    (
        "Sidama Bensa Washed", NAMSAN, "Ethiopia", "Sidama (Bensa)", "washed",
        ["74158", "Setami"], "light", (8.3, 7.0, 1.8, 4.5, 8.8), 150,
        ["grapefruit", "green grape", "lavender", "brown sugar"],
        "자몽과 청포도의 상큼한 산미 위로 라벤더 향이 은은하게 퍼집니다. 단정하고 투명한 질감에 "
        "흑설탕 같은 단맛이 받쳐 주어 끝까지 균형이 좋습니다.",
    ),
    (
        "Sidama Bombe Natural", COPPER, "Ethiopia", "Sidama (Bombe)", "natural",
        ["74158", "Ethiopian landrace"], "medium-light", (7.3, 8.0, 2.5, 6.0, 8.7), 190,
        ["raspberry", "cherry cola", "hibiscus", "milk chocolate"],
        "Red-fruit heavy: raspberry coulis, cherry cola and a hint of hibiscus, with "
        "milk-chocolate sweetness filling out the middle. Round, juicy and generous without "
        "tipping into funk.",
    ),
    (
        "Limu Washed", JEJU, "Ethiopia", "Limu (Oromia)", "washed",
        ["Ethiopian landrace"], "medium-light", (7.2, 7.3, 2.4, 5.2, 8.5), 230,
        ["apricot", "orange marmalade", "floral", "caramel"],
        "살구와 오렌지 마멀레이드 같은 부드러운 산미가 돋보이고, 은은한 꽃향이 뒤를 잇습니다. "
        "캐러멜 같은 단맛과 깔끔한 마무리가 데일리 커피로 잘 어울립니다.",
    ),
    (
        "Gedeb Anaerobic Natural", HANBIT, "Ethiopia", "Gedeb, Yirgacheffe", "anaerobic",
        ["Ethiopian landrace"], "light", (7.5, 8.3, 2.0, 5.8, 8.8), 60,
        ["lychee", "pineapple", "cinnamon", "winey", "tropical"],
        "Tropical punch에 가까운 화려한 향미 — 리치, 파인애플, 시나몬이 겹겹이 쌓입니다. Winey한 "
        "발효감이 뚜렷하지만 단맛이 받쳐 주어 깔끔하게 끝납니다.",
    ),
    (
        "Harrar Longberry Natural", EMBER, "Ethiopia", "Harrar (East Hararghe)", "natural",
        ["Harrar longberry"], "medium", (5.8, 7.0, 4.0, 6.8, 8.1), 120,
        ["blueberry muffin", "cardamom", "cocoa", "leather"],
        "An old-school Harrar with blueberry-muffin aromatics, cardamom and a dusty cocoa finish. "
        "A medium roast keeps the wild fruit in check and adds a toasty, leathery depth.",
    ),
    (
        "Ethiopia Sidama Decaf", FINCH, "Ethiopia", "Sidama", "washed",
        ["74158", "Ethiopian landrace"], "medium", (6.0, 6.8, 2.8, 5.2, 8.0), 240,
        ["stewed peach", "black tea", "caramel", "decaf"],
        "Proof that decaf can be pretty: stewed peach, orange pekoe tea and a caramel-wafer "
        "sweetness. Water-process decaffeinated; gentle acidity and a soft, rounded finish make "
        "it an easy afternoon cup.",
    ),
    # ------------------------------------------------------------------ Kenya
    (
        "Nyeri Karatina AA", ALTBAU, "Kenya", "Nyeri", "washed",
        ["SL28", "SL34"], "light", (9.0, 6.8, 2.4, 5.5, 9.0), 110,
        ["blackcurrant", "grapefruit", "tomato leaf", "brown sugar"],
        "Blackcurrant and ruby grapefruit burst out of the cup with a phosphoric, almost fizzy "
        "acidity. Underneath sits a tomato-leaf savouriness and a brown-sugar sweetness that "
        "lingers long after the sip.",
    ),
    (
        "Kirinyaga AB", HANBIT, "Kenya", "Kirinyaga", "washed",
        ["SL28", "SL34", "Ruiru 11"], "light", (8.9, 6.9, 2.3, 5.6, 8.9), 130,
        ["blackcurrant", "cranberry", "plum", "hibiscus", "molasses"],
        "블랙커런트와 크랜베리의 강렬한 산미가 톡 쏘듯 살아 있고, 자두의 과즙감이 뒤따릅니다. "
        "식으면 히비스커스 향과 당밀 같은 단맛이 올라와 긴 여운을 남깁니다.",
    ),
    (
        "Murang'a Peaberry", NORTHFIELD, "Kenya", "Murang'a", "washed",
        ["SL28", "SL34"], "medium-light", (8.5, 7.0, 2.6, 5.8, 8.8), 90,
        ["red currant", "blood orange", "rhubarb", "cola", "black tea"],
        "Peaberry density gives this one a juicy, rounded structure: red currant, blood orange "
        "and a sweet rhubarb tartness. It finishes with a savoury-sweet note of cola and black "
        "tea.",
    ),
    (
        "Embu Washed AA", DALMAJI, "Kenya", "Embu", "washed",
        ["SL28", "Batian"], "medium-light", (8.4, 7.1, 2.8, 6.0, 8.6), 170,
        ["raspberry", "red wine", "panela", "juicy"],
        "라즈베리와 레드와인을 연상시키는 선명한 산미, 그리고 비정제 설탕의 묵직한 단맛이 "
        "돋보입니다. 바디감이 좋아 라떼로 마셔도 과일 향이 살아 있습니다.",
    ),
    (
        "Kiambu Batian", COPPER, "Kenya", "Kiambu", "washed",
        ["Batian", "Ruiru 11"], "light", (8.6, 6.4, 2.5, 5.0, 8.4), 200,
        ["lemon curd", "gooseberry", "redcurrant", "cane sugar"],
        "Bright lemon curd and gooseberry up front, with a sweet tomato and redcurrant centre. A "
        "touch more rustic than the SL lots, but lively and very clean.",
    ),
    (
        "Meru Washed AB", RIDGELINE, "Kenya", "Meru", "washed",
        ["SL34", "Ruiru 11"], "medium", (7.4, 7.0, 3.6, 6.8, 8.5), 145,
        ["blackberry jam", "cocoa", "grapefruit", "syrupy"],
        "Roasted a shade darker to bring out blackberry jam and cocoa alongside Kenya's signature "
        "grapefruit snap. Dense, syrupy and bold enough for a French press.",
    ),
    (
        "Kenya Nyeri AA Medium Dark", SEOCHON, "Kenya", "Nyeri", "washed",
        ["SL28", "SL34"], "medium-dark", (5.6, 6.2, 5.4, 7.4, 8.1), 85,
        ["blackberry", "dark chocolate", "roasted nuts", "bittersweet"],
        "중강배전으로 볶아 블랙베리의 산미를 부드럽게 다듬고 다크초콜릿과 구운 견과의 고소함을 "
        "끌어냈습니다. 묵직한 바디와 쌉싸름한 여운이 진한 핸드드립에 잘 어울립니다.",
    ),
    # ------------------------------------------------------------------ Colombia
    (
        "Huila Washed Caturra", NAMSAN, "Colombia", "Huila", "washed",
        ["Caturra", "Colombia"], "medium", (6.2, 7.2, 3.4, 6.2, 8.4), 380,
        ["milk chocolate", "almond", "red apple", "caramel"],
        "밀크초콜릿과 구운 아몬드의 고소함에 붉은 사과 같은 산뜻한 산미가 더해졌습니다. 캐러멜 "
        "단맛이 부드럽게 감싸 주어 누구나 편하게 즐길 수 있는 밸런스 좋은 커피입니다.",
    ),
    (
        "Nariño Buesaco Washed", ALTBAU, "Colombia", "Nariño (Buesaco)", "washed",
        ["Caturra", "Castillo"], "light", (8.0, 7.5, 2.0, 5.0, 8.8), 160,
        ["red grape", "cane sugar", "mandarin", "rose hip"],
        "High-altitude Nariño at its most elegant: red grape, cane sugar and a mandarin-bright "
        "acidity, with a floral hint of rose hip. Clean, juicy and crystalline.",
    ),
    (
        "Cauca Inzá Washed", NORTHFIELD, "Colombia", "Cauca (Inzá)", "washed",
        ["Castillo", "Caturra"], "medium-light", (6.8, 7.6, 3.0, 6.0, 8.5), 290,
        ["panela", "baked plum", "cocoa", "orange"],
        "Panela sweetness and baked plum lead, followed by a cocoa-dusted finish and a soft "
        "orange acidity. Medium body, round and comforting.",
    ),
    (
        "Tolima Planadas Washed", JEJU, "Colombia", "Tolima (Planadas)", "washed",
        ["Caturra", "Typica"], "medium-light", (7.4, 7.2, 2.4, 5.0, 8.5), 210,
        ["green apple", "lime", "brown sugar", "vanilla"],
        "청사과와 라임의 산뜻한 산미 뒤로 흑설탕과 바닐라의 달콤함이 이어집니다. 가볍고 매끄러운 "
        "질감이라 아이스 커피로도 잘 어울립니다.",
    ),
    (
        "Antioquia Urrao Medium Dark", EMBER, "Colombia", "Antioquia (Urrao)", "washed",
        ["Castillo", "Colombia"], "medium-dark", (4.4, 6.4, 5.2, 7.2, 7.9), 420,
        ["dark caramel", "hazelnut", "baker's chocolate", "dried cherry"],
        "A sturdy, roasty Colombian: dark caramel, toasted hazelnut and a baker's-chocolate "
        "finish. Acidity is muted to a gentle dried-cherry tang; built for milk drinks.",
    ),
    (
        "Huila Pink Bourbon", HANBIT, "Colombia", "Huila (Pitalito)", "washed",
        ["Pink Bourbon"], "light", (8.2, 7.8, 1.8, 5.2, 9.0), 0,
        ["floral", "lychee", "pink grapefruit", "honey", "silky"],
        "핑크 버번 특유의 화사한 꽃향과 함께 리치, 핑크 자몽의 산미가 생기 있게 살아납니다. 꿀 "
        "같은 단맛과 실키한 질감이 오래도록 이어집니다.",
    ),
    (
        "Quindío Anaerobic Natural", FINCH, "Colombia", "Quindío", "anaerobic",
        ["Castillo"], "light", (7.0, 8.6, 1.8, 6.0, 8.5), 75,
        ["strawberry yoghurt", "bubblegum", "cinnamon", "liqueur"],
        "Loud and playful: strawberry yoghurt, bubblegum and cinnamon, with a boozy, liqueur-like "
        "finish. Polarising for purists, irresistible for fruit lovers.",
    ),
    (
        "Colombia Sugarcane Decaf", COPPER, "Colombia", "Huila", "washed",
        ["Caturra", "Castillo"], "medium", (5.6, 7.0, 3.2, 5.8, 8.1), 310,
        ["red apple", "toffee", "cocoa", "decaf"],
        "A sugarcane-process decaf that keeps its Colombian character: red apple, toffee and a "
        "soft cocoa finish. Sweet and easy-drinking, a genuine after-dinner coffee.",
    ),
    # ------------------------------------------------------------------ Brazil
    (
        "Cerrado Mineiro Natural", SEOCHON, "Brazil", "Cerrado Mineiro", "natural",
        ["Yellow Bourbon", "Mundo Novo"], "medium", (3.8, 7.0, 4.2, 7.4, 8.0), 450,
        ["roasted peanut", "nougat", "milk chocolate", "low acidity"],
        "볶은 땅콩과 누가 같은 고소함, 그리고 부드러운 밀크초콜릿의 단맛이 중심을 잡습니다. "
        "산미가 낮고 바디가 묵직해 에스프레소와 라떼 베이스로 특히 좋습니다.",
    ),
    (
        "Sul de Minas Pulped Natural", NORTHFIELD, "Brazil", "Sul de Minas", "honey",
        ["Yellow Catuai", "Acaiá"], "medium", (4.6, 7.2, 3.8, 6.8, 8.1), 400,
        ["brown butter", "pecan", "red apple", "cocoa"],
        "Creamy and sweet: brown butter, candied pecans and a gentle red-apple brightness. A "
        "crowd-pleaser with a smooth, lingering cocoa finish.",
    ),
    (
        "Alta Mogiana Yellow Bourbon", YEONGDO, "Brazil", "Alta Mogiana", "natural",
        ["Yellow Bourbon"], "medium", (4.2, 7.1, 3.6, 6.8, 8.0), 360,
        ["hazelnut", "caramel", "dried fig", "smooth"],
        "헤이즐넛과 캐러멜, 그리고 살짝 말린 무화과의 단맛이 어우러집니다. 부드럽고 둥근 질감에 "
        "쓴맛이 적어 매일 마시기 편한 커피입니다.",
    ),
    (
        "Chapada Diamantina Natural", ALTBAU, "Brazil", "Chapada Diamantina (Bahia)", "natural",
        ["Red Catuai"], "medium-light", (5.8, 7.8, 3.0, 6.6, 8.5), 180,
        ["ripe cherry", "mixed berries", "milk chocolate", "citrus"],
        "An unusually fruity Brazil: ripe cherry, mixed berries and milk chocolate, with a juicy, "
        "syrupy body. Higher altitude brings a welcome citrus lift.",
    ),
    (
        "Brazil Mogiana Dark Roast", EMBER, "Brazil", "Mogiana", "natural",
        ["Mundo Novo", "Catuai"], "dark", (2.4, 5.0, 7.8, 8.0, 7.3), 480,
        ["smoky", "walnut", "molasses", "charred sugar"],
        "Smoky and bittersweet, with roasted walnut, molasses and a charred-sugar finish. "
        "Heavy-bodied and low in acidity; stands up to plenty of milk.",
    ),
    (
        "Mantiqueira de Minas Honey", RIDGELINE, "Brazil", "Mantiqueira de Minas", "honey",
        ["Yellow Catuai", "Arara"], "medium-light", (5.2, 7.6, 3.0, 6.6, 8.4), 230,
        ["apricot jam", "macadamia", "chocolate truffle", "buttery"],
        "Honey processing adds a jammy edge to classic Brazilian sweetness: apricot jam, "
        "macadamia and milk-chocolate truffle. Soft acidity and a buttery mouthfeel.",
    ),
    # ------------------------------------------------------------------ Guatemala
    (
        "Huehuetenango Washed", ALTBAU, "Guatemala", "Huehuetenango", "washed",
        ["Bourbon", "Caturra"], "medium-light", (7.2, 7.2, 2.8, 5.8, 8.6), 260,
        ["green apple", "red grape", "toffee", "almond", "cocoa"],
        "Crisp green apple and red grape acidity over a toffee-and-almond core. Structured and "
        "vivid, with a clean cocoa finish that keeps you reaching for another sip.",
    ),
    (
        "Antigua Bourbon", NAMSAN, "Guatemala", "Antigua", "washed",
        ["Bourbon"], "medium", (5.6, 6.8, 4.2, 7.0, 8.3), 300,
        ["dark chocolate", "pecan", "orange peel", "spice"],
        "다크초콜릿과 구운 피칸의 깊은 고소함, 그리고 오렌지 껍질 같은 은은한 산미가 "
        "조화롭습니다. 약간의 스파이시한 향과 묵직한 바디가 인상적입니다.",
    ),
    (
        "Acatenango Washed", RIDGELINE, "Guatemala", "Acatenango", "washed",
        ["Bourbon", "Caturra"], "medium", (5.8, 7.2, 3.6, 6.4, 8.2), 275,
        ["brown sugar", "plum", "baking spice", "chocolate"],
        "Volcanic soils, sweet cup: brown sugar, plum and baking spices with a smooth, chocolatey "
        "finish. Mild and round, with just enough brightness to stay lively.",
    ),
    (
        "Atitlán Washed", COPPER, "Guatemala", "Lake Atitlán", "washed",
        ["Bourbon", "Typica"], "medium-light", (6.8, 7.0, 3.0, 5.6, 8.4), 220,
        ["lemon drop", "milk chocolate", "almond", "jasmine"],
        "Lemon-drop brightness meets milk chocolate and honey-roasted almonds. Balanced and "
        "lively, with a delicate jasmine note in the aroma.",
    ),
    (
        "Cobán Dark Roast", SEOCHON, "Guatemala", "Cobán (Alta Verapaz)", "washed",
        ["Caturra", "Catuai"], "dark", (2.8, 5.4, 7.4, 7.8, 7.6), 340,
        ["smoky", "cocoa nib", "black sugar", "bold"],
        "강배전 특유의 스모키한 향과 함께 카카오닙스, 흑당의 진한 단맛이 느껴집니다. 쓴맛이 "
        "선명하지만 거칠지 않고, 여운이 길게 남습니다.",
    ),
    # ------------------------------------------------------------------ Costa Rica
    (
        "Tarrazú Yellow Honey", HANBIT, "Costa Rica", "Tarrazú", "honey",
        ["Caturra", "Catuai"], "medium-light", (6.8, 8.0, 2.4, 5.8, 8.6), 250,
        ["yellow plum", "tangerine", "honey", "maple syrup"],
        "노란 자두와 귤의 달콤한 산미, 그리고 꿀과 메이플 시럽 같은 부드러운 단맛이 돋보입니다. "
        "매끄러운 질감과 깔끔한 마무리로 편안하게 즐기기 좋습니다.",
    ),
    (
        "West Valley Red Honey", FINCH, "Costa Rica", "West Valley", "honey",
        ["Villa Sarchi"], "light", (7.4, 8.1, 2.0, 6.0, 8.7), 170,
        ["red cherry", "cranberry", "raw sugar", "cherry compote"],
        "Red honey processing gives a syrupy, sweet-tart cup of red cherry, cranberry and raw "
        "sugar. Bright but rounded, with a finish like warm cherry compote.",
    ),
    (
        "Central Valley Black Honey", NORTHFIELD, "Costa Rica", "Central Valley", "honey",
        ["Catuai", "SL28"], "medium-light", (6.2, 8.3, 2.8, 7.0, 8.6), 95,
        ["dark cherry", "fig jam", "fudge", "malic"],
        "Dense and dessert-like: dark cherry, fig jam and chocolate fudge over a soft malic "
        "acidity. Black honey processing gives it real weight and a long, sweet finish.",
    ),
    (
        "Tarrazú Washed", EMBER, "Costa Rica", "Tarrazú", "washed",
        ["Caturra", "Catuai"], "medium", (6.0, 7.0, 3.6, 6.0, 8.2), 390,
        ["toasted marshmallow", "orange", "chocolate wafer", "balanced"],
        "Clean and classic: toasted marshmallow, orange and a chocolate-wafer finish. The medium "
        "roast keeps things friendly and balanced, ideal for batch drip.",
    ),
    # ------------------------------------------------------------------ Panama
    (
        "Boquete Geisha Washed", HANBIT, "Panama", "Boquete (Chiriquí)", "washed",
        ["Geisha"], "light", (8.4, 7.8, 1.2, 4.2, 9.5), 25,
        ["jasmine", "bergamot", "peach blossom", "Earl Grey", "honey"],
        "재스민, 베르가못, 그리고 복숭아꽃 향이 잔을 가득 채우는 우아한 게이샤입니다. 얼그레이와 "
        "꿀 같은 맛이 투명하게 이어지고, 실크처럼 가벼운 질감 속에서 여운이 오래 머뭅니다.",
    ),
    (
        "Volcán Geisha Natural", ALTBAU, "Panama", "Volcán (Chiriquí)", "natural",
        ["Geisha"], "light", (7.8, 8.8, 1.2, 5.4, 9.4), 0,
        ["orange blossom", "rose", "guava", "mango", "candied papaya"],
        "Florals first (orange blossom, rose, a little lavender), then a cascade of tropical "
        "fruit: guava, ripe mango and candied papaya. Silky, intensely sweet and impossibly long.",
    ),
    (
        "Boquete Pacamara Washed", DALMAJI, "Panama", "Boquete (Chiriquí)", "washed",
        ["Pacamara"], "light", (7.6, 7.4, 2.4, 6.2, 8.9), 40,
        ["red plum", "blood orange", "herbal", "syrupy"],
        "Pacamara답게 입체적인 향미 — 붉은 자두, 캄파리처럼 쌉싸름한 블러드 오렌지, 그리고 은은한 "
        "허브 향. Syrupy한 바디와 긴 여운이 인상적입니다.",
    ),
    (
        "Chiriquí Catuai Honey", COPPER, "Panama", "Chiriquí", "honey",
        ["Catuai"], "medium", (6.0, 7.4, 3.2, 6.2, 8.3), 210,
        ["red apple", "honey", "milk chocolate", "creamy"],
        "An everyday Panama with plenty of charm: red apple, honey and milk chocolate, a soft "
        "acidity and a creamy body.",
    ),
    # ------------------------------------------------------------------ El Salvador
    (
        "Chalatenango Pacamara Natural", NAMSAN, "El Salvador", "Chalatenango", "natural",
        ["Pacamara"], "medium-light", (6.8, 8.2, 2.6, 6.6, 8.7), 120,
        ["grape juice", "cherry jam", "milk chocolate", "brown sugar", "creamy"],
        "포도주스와 체리잼 같은 진한 과일 단맛이 먼저 느껴지고, 밀크초콜릿과 흑설탕이 뒤를 "
        "받칩니다. 쥬시한 산미와 크리미한 바디가 잘 어우러집니다.",
    ),
    (
        "Santa Ana Bourbon Washed", NORTHFIELD, "El Salvador", "Santa Ana", "washed",
        ["Bourbon"], "medium", (5.8, 7.4, 3.2, 6.2, 8.3), 330,
        ["caramelised apple", "almond", "cocoa", "soft citrus"],
        "Gentle and sweet: caramelised apple, honey-roast almond and cocoa, with soft citrus on "
        "the edges. Textbook Bourbon balance.",
    ),
    (
        "Apaneca Honey Pacas", RIDGELINE, "El Salvador", "Apaneca-Ilamatepec", "honey",
        ["Pacas"], "medium-light", (6.6, 7.8, 2.8, 6.2, 8.4), 190,
        ["tangerine", "red cherry", "brown sugar", "cinnamon"],
        "Tangerine and red-cherry sweetness over a syrupy, brown-sugar body. A clean, juicy honey "
        "coffee with a subtle cinnamon finish.",
    ),
    # ------------------------------------------------------------------ Honduras
    (
        "Marcala Washed", YEONGDO, "Honduras", "Marcala (La Paz)", "washed",
        ["Catuai", "Lempira"], "medium", (5.4, 7.0, 3.6, 6.0, 8.1), 370,
        ["caramel", "walnut", "red apple", "clean"],
        "부드러운 캐러멜과 구운 호두, 그리고 붉은 사과의 은은한 산미가 편안하게 어우러집니다. "
        "깔끔하고 무난해 아침에 마시기 좋은 커피입니다.",
    ),
    (
        "Santa Bárbara Parainema", ALTBAU, "Honduras", "Santa Bárbara", "washed",
        ["Parainema"], "light", (8.2, 7.0, 2.0, 4.8, 8.6), 130,
        ["passionfruit", "white grape", "lemongrass", "honey"],
        "Parainema at its most expressive: passionfruit, white grape and a herbal, almost "
        "lemongrass freshness. Tart, clean and sparkling, with a honeyed finish.",
    ),
    (
        "Copán Natural Espresso Roast", EMBER, "Honduras", "Copán", "natural",
        ["IHCAFE 90", "Catuai"], "medium-dark", (4.2, 6.2, 5.6, 7.4, 7.8), 260,
        ["dark fruit", "cacao", "tobacco", "bittersweet"],
        "Winey dark fruit, roasted cacao and a touch of tobacco in a heavy, rounded cup. Taken a "
        "little darker for a bold, bittersweet espresso.",
    ),
    # ------------------------------------------------------------------ Rwanda
    (
        "Nyamasheke Washed Bourbon", JEJU, "Rwanda", "Nyamasheke (Lake Kivu)", "washed",
        ["Red Bourbon"], "light", (7.8, 7.0, 2.0, 4.6, 8.6), 140,
        ["red plum", "cranberry", "black tea", "rose"],
        "붉은 자두와 크랜베리의 산미가 경쾌하고, 홍차와 장미 같은 향이 은은하게 감돕니다. 깔끔한 "
        "단맛과 가벼운 바디 덕분에 차처럼 편안하게 마실 수 있습니다.",
    ),
    (
        "Huye Washed", COPPER, "Rwanda", "Huye (Southern Province)", "washed",
        ["Red Bourbon"], "medium-light", (7.4, 7.2, 2.2, 5.0, 8.6), 180,
        ["red apple", "orange zest", "honey", "black tea"],
        "Red apple, orange zest and a honeyed black-tea finish. Delicate, juicy and beautifully "
        "clean.",
    ),
    (
        "Gakenke Natural", FINCH, "Rwanda", "Gakenke (Northern Province)", "natural",
        ["Red Bourbon"], "medium-light", (7.0, 7.8, 2.6, 6.0, 8.5), 155,
        ["strawberry", "red currant", "tamarind", "chocolate", "winey"],
        "Strawberry, red currant and a sweet-tart tamarind twist, with a chocolatey backbone. "
        "Natural processing adds body and a soft, winey finish.",
    ),
    # ------------------------------------------------------------------ Burundi
    (
        "Kayanza Washed", ALTBAU, "Burundi", "Kayanza", "washed",
        ["Red Bourbon"], "light", (8.2, 7.0, 2.0, 4.6, 8.7), 150,
        ["pink lemonade", "red berries", "hibiscus", "brown sugar"],
        "Pink lemonade, red berries and a floral hibiscus lift, grounded by brown-sugar "
        "sweetness. Bright, lean and refreshing.",
    ),
    (
        "Ngozi Washed", HANBIT, "Burundi", "Ngozi", "washed",
        ["Red Bourbon"], "medium-light", (7.9, 7.0, 2.2, 5.2, 8.6), 165,
        ["redcurrant", "raspberry", "brown sugar", "clove"],
        "레드커런트와 라즈베리의 생기 있는 산미, 그리고 흑설탕과 정향의 향긋함이 어우러집니다. "
        "밝고 깔끔한 인상이지만 바디가 적당해 균형이 좋습니다.",
    ),
    (
        "Kirundo Honey", RIDGELINE, "Burundi", "Kirundo", "honey",
        ["Red Bourbon"], "medium", (6.2, 7.4, 3.2, 6.2, 8.3), 205,
        ["baked apple", "cinnamon", "plum", "milk chocolate"],
        "Sweet and spicy: cinnamon-baked apple, plum and milk chocolate. Honey processing softens "
        "Burundi's brightness into something cosy and round.",
    ),
    # ------------------------------------------------------------------ Yemen
    (
        "Haraz Natural", ALTBAU, "Yemen", "Haraz (Sana'a)", "natural",
        ["Udaini", "Tuffahi"], "medium-light", (6.4, 7.8, 3.2, 6.8, 8.9), 30,
        ["dried apricot", "cardamom", "raisin", "wild honey", "tobacco"],
        "Ancient and complex: dried apricot, cardamom and raisin, with wild honey, a wisp of "
        "tobacco and a cocoa-nib finish. Earthy-sweet and endlessly layered.",
    ),
    (
        "Bani Matar Natural", DALMAJI, "Yemen", "Bani Matar (Sana'a)", "natural",
        ["Jaadi", "Dawairi"], "medium", (6.0, 7.6, 3.6, 7.2, 8.8), 0,
        ["raisin", "date", "cinnamon", "cardamom", "winey"],
        "건포도와 대추야자의 진한 단맛 위로 시나몬, 카다멈 같은 향신료 향이 겹겹이 쌓입니다. 와인 "
        "같은 산미와 묵직한 바디, 긴 여운이 특별한 경험을 선사합니다.",
    ),
    # ------------------------------------------------------------------ Indonesia
    (
        "Sumatra Gayo Wet-Hulled", SEOCHON, "Indonesia", "Aceh (Gayo Highlands)", "wet-hulled",
        ["Ateng", "Tim Tim", "Gayo 1"], "medium-dark", (2.8, 5.8, 5.6, 8.4, 7.9), 290,
        ["earthy", "cedar", "dark chocolate", "syrupy"],
        "흙내음과 삼나무 향, 그리고 다크초콜릿의 쌉싸름한 단맛이 묵직하게 다가옵니다. 산미가 거의 "
        "없고 시럽 같은 바디가 길게 이어져 진한 커피를 좋아하는 분께 추천합니다.",
    ),
    (
        "Sumatra Lintong", EMBER, "Indonesia", "North Sumatra (Lintong)", "wet-hulled",
        ["Ateng", "Typica"], "dark", (2.2, 5.2, 7.4, 8.8, 7.5), 310,
        ["forest floor", "pipe tobacco", "black pepper", "molasses", "smoky"],
        "Forest floor, pipe tobacco and black pepper over a thick, almost chewy body. The dark "
        "roast pulls out molasses and a lingering smoky finish.",
    ),
    (
        "Mandheling Dark Roast", YEONGDO, "Indonesia", "North Sumatra", "wet-hulled",
        ["Ateng", "Typica"], "dark", (2.0, 5.0, 7.8, 8.6, 7.4), 420,
        ["dark chocolate", "smoky", "herbal", "earthy"],
        "다크초콜릿과 훈연 향이 강렬하게 느껴지는 강배전 만델링입니다. 허브와 흙내음이 "
        "어우러지고, 두툼한 바디감에 쓴맛이 길게 남아 아이스 아메리카노로도 좋습니다.",
    ),
    (
        "Java Ijen Washed", NORTHFIELD, "Indonesia", "East Java (Ijen Plateau)", "washed",
        ["Typica", "S795"], "medium", (4.2, 6.6, 4.2, 7.2, 8.0), 240,
        ["brown sugar", "cedar", "toasted coconut", "spice"],
        "A clean washed Java with a sweet-savoury edge: brown sugar, cedar and toasted coconut, "
        "finishing with a gentle spice. Full body, soft acidity.",
    ),
    (
        "Sulawesi Toraja", COPPER, "Indonesia", "Sulawesi (Toraja)", "wet-hulled",
        ["S795", "Typica"], "medium-dark", (3.0, 5.8, 5.4, 8.0, 7.8), 200,
        ["herbal", "dark chocolate", "clove", "tobacco", "velvety"],
        "Herbal and spicy, with dark chocolate, clove and a sweet tobacco note. A heavy, velvety "
        "body and very little acidity.",
    ),
    (
        "Bali Kintamani Natural", FINCH, "Indonesia", "Bali (Kintamani)", "natural",
        ["Kopyol", "Typica"], "medium", (5.6, 7.2, 3.4, 6.6, 8.2), 185,
        ["orange", "brown sugar", "milk chocolate", "dried mango"],
        "An orange-citrus brightness rare for Indonesia, with brown sugar, milk chocolate and a "
        "hint of dried mango. Smooth and syrupy.",
    ),
    # ------------------------------------------------------------------ Papua New Guinea
    (
        "Eastern Highlands Washed", RIDGELINE, "Papua New Guinea", "Eastern Highlands", "washed",
        ["Typica", "Arusha", "Bourbon"], "medium", (5.8, 6.8, 3.6, 6.6, 8.1), 215,
        ["papaya", "pineapple", "malt", "chocolate"],
        "Tropical hints of papaya and pineapple over a malty, chocolatey base. Rustic sweetness, "
        "a medium-full body and a clean finish.",
    ),
    (
        "Wahgi Valley Medium Dark", NAMSAN, "Papua New Guinea",
        "Western Highlands (Wahgi Valley)", "washed",
        ["Typica", "Arusha"], "medium-dark", (3.8, 6.0, 5.0, 7.4, 7.9), 260,
        ["roasted nuts", "malt", "cocoa", "herbal"],
        "구운 견과와 맥아, 그리고 코코아의 고소한 단맛이 묵직하게 이어집니다. 은은한 허브 향과 "
        "함께 쌉싸름한 마무리가 특징입니다.",
    ),
    # ------------------------------------------------------------------ India
    (
        "Monsooned Malabar AA", EMBER, "India", "Malabar Coast (Karnataka)", "other",
        ["Kent", "S795"], "medium-dark", (1.8, 5.4, 5.6, 8.4, 7.5), 350,
        ["cedar", "nutmeg", "dark toffee", "earthy", "monsooned"],
        "Low-toned and mellow: musty cedar, nutmeg and dark toffee over a heavy, rounded body. "
        "Months of monsoon winds leave almost no acidity, just a soft, spicy, earthy cup that "
        "anchors many an espresso blend.",
    ),
    (
        "Chikmagalur Washed", JEJU, "India", "Chikmagalur (Karnataka)", "washed",
        ["Selection 9", "S795"], "medium", (4.4, 6.6, 4.0, 6.8, 8.0), 230,
        ["milk chocolate", "toasted grain", "spice", "smooth"],
        "밀크초콜릿과 구운 곡물의 고소함 위로 살짝 스파이시한 향이 느껴집니다. 부드러운 바디와 "
        "낮은 산미로 우유와도 잘 어울립니다.",
    ),
    (
        "Araku Valley Natural", ALTBAU, "India", "Araku Valley (Andhra Pradesh)", "natural",
        ["Selection 5B", "S795"], "medium-light", (5.8, 7.2, 3.4, 6.6, 8.3), 105,
        ["dried cherry", "cacao", "black pepper", "jammy"],
        "Dried cherry, cacao and a subtle black-pepper spice, with a jammy sweetness that fills "
        "the mid-palate. Unusually fruity for an Indian coffee.",
    ),
    # ------------------------------------------------------------------ Peru
    (
        "Cajamarca Washed", NORTHFIELD, "Peru", "Cajamarca", "washed",
        ["Caturra", "Bourbon", "Typica"], "medium", (5.4, 7.0, 3.4, 6.2, 8.1), 410,
        ["milk chocolate", "roasted almond", "orange", "balanced"],
        "Soft and sweet: milk chocolate, roasted almond and a mild orange acidity. A dependable, "
        "balanced cup for every brew method.",
    ),
    (
        "Cusco Washed", YEONGDO, "Peru", "Cusco (La Convención)", "washed",
        ["Typica", "Bourbon"], "medium-light", (7.0, 7.0, 2.6, 5.0, 8.3), 200,
        ["green grape", "lemon", "honey", "vanilla"],
        "청포도와 레몬의 산뜻한 산미 위로 꿀과 바닐라의 부드러운 단맛이 이어집니다. 가볍고 깨끗한 "
        "질감으로 여름에 아이스로 즐기기 좋습니다.",
    ),
    (
        "Amazonas French Roast", RIDGELINE, "Peru", "Amazonas", "washed",
        ["Caturra", "Typica"], "dark", (2.4, 5.2, 7.6, 8.0, 7.4), 300,
        ["bittersweet chocolate", "burnt caramel", "smoke", "full body"],
        "French-roast intensity without the ash: bittersweet chocolate, burnt caramel and a "
        "whisper of smoke. Full body, low acid, big finish.",
    ),
    # ------------------------------------------------------------------ Mexico
    (
        "Chiapas Washed", COPPER, "Mexico", "Chiapas", "washed",
        ["Bourbon", "Typica"], "medium", (5.0, 7.0, 3.4, 5.8, 8.0), 280,
        ["milk chocolate", "peanut brittle", "pear", "nutty"],
        "Light and gentle: milk chocolate, peanut brittle and a soft pear acidity. Clean and "
        "comforting, with a sweet, nutty finish.",
    ),
    (
        "Oaxaca Pluma", FINCH, "Mexico", "Oaxaca (Pluma Hidalgo)", "washed",
        ["Pluma Hidalgo", "Typica"], "medium-light", (6.4, 7.2, 2.6, 4.8, 8.3), 145,
        ["red apple", "cinnamon", "honeycomb", "almond", "tea-like"],
        "Delicate and sweet: red apple, cinnamon and honeycomb, with a light, tea-like body and a "
        "clean almond finish.",
    ),
    (
        "Veracruz Mountain Water Decaf", SEOCHON, "Mexico", "Veracruz", "washed",
        ["Typica", "Garnica"], "medium-dark", (3.6, 6.2, 4.8, 6.8, 7.7), 260,
        ["cocoa", "roasted nuts", "brown sugar", "decaf"],
        "카페인을 제거했지만 코코아와 구운 견과, 흑설탕의 고소한 단맛은 그대로 살아 있습니다. "
        "부드러운 바디와 은은한 쓴맛으로 저녁에도 부담 없이 즐길 수 있는 디카페인입니다.",
    ),
    # ------------------------------------------------------------------ China (Yunnan)
    (
        "Yunnan Pu'er Natural", HANBIT, "China", "Yunnan (Pu'er)", "natural",
        ["Catimor"], "medium-light", (6.2, 7.4, 3.0, 6.2, 8.2), 190,
        ["plum", "raisin", "pu-erh tea", "black sugar"],
        "잘 익은 자두와 건포도의 단맛에 보이차를 연상시키는 은은한 흙내음이 어우러집니다. "
        "부드러운 발효감과 흑당 같은 단맛이 오래 남습니다.",
    ),
    (
        "Yunnan Baoshan Washed", JEJU, "China", "Yunnan (Baoshan)", "washed",
        ["Catimor", "Typica"], "medium-light", (6.4, 6.8, 2.6, 4.6, 8.1), 175,
        ["white tea", "green apple", "honey", "clean"],
        "백차처럼 맑고 가벼운 질감에 청사과와 꿀의 은은한 단맛이 느껴집니다. 부드러운 산미와 "
        "깔끔한 여운이 편안한 커피입니다.",
    ),
    (
        "Yunnan Anaerobic Honey", DALMAJI, "China", "Yunnan (Menglian)", "anaerobic",
        ["Catimor"], "medium-light", (7.0, 8.2, 2.2, 5.8, 8.5), 80,
        ["canned peach", "pineapple", "yoghurt", "cinnamon"],
        "Anaerobic honey 가공으로 복숭아 통조림, 파인애플, 그리고 요거트 같은 산미가 화려하게 "
        "펼쳐집니다. 끝에는 cinnamon과 흑설탕의 단맛이 남습니다.",
    ),
    # ------------------------------------------------------------------ Thailand
    (
        "Doi Chang Washed", YEONGDO, "Thailand", "Chiang Rai (Doi Chang)", "washed",
        ["Catimor", "Typica"], "medium", (5.2, 7.0, 3.4, 6.0, 8.0), 300,
        ["caramel", "roasted almond", "orange", "mellow"],
        "캐러멜과 구운 아몬드, 그리고 은은한 오렌지 향이 조화로운 부드러운 커피입니다. 산미가 "
        "튀지 않고 단맛이 안정적이라 누구나 편하게 마실 수 있습니다.",
    ),
    (
        "Doi Pangkhon Natural", COPPER, "Thailand", "Chiang Rai (Doi Pangkhon)", "natural",
        ["Catimor", "Typica"], "medium-light", (6.6, 7.8, 2.8, 6.0, 8.3), 135,
        ["strawberry", "red grape", "brown sugar", "chocolate"],
        "Ripe strawberry and red grape up front, with brown sugar and a soft chocolate finish. A "
        "cheerful, fruit-forward natural from northern Thailand.",
    ),
    # ------------------------------------------------------------------ more origins
    (
        "Caranavi Washed", RIDGELINE, "Bolivia", "Caranavi (La Paz)", "washed",
        ["Caturra", "Typica"], "light", (7.8, 7.2, 1.8, 4.2, 8.6), 115,
        ["white florals", "green tea", "lemon meringue", "delicate"],
        "Delicate white florals, green tea and a sweet lemon-meringue acidity. Light-bodied and "
        "crystalline; a quiet beauty.",
    ),
    (
        "Pichincha Typica Mejorado", NAMSAN, "Ecuador", "Pichincha", "washed",
        ["Typica Mejorado"], "light", (8.0, 7.4, 1.6, 4.4, 9.0), 35,
        ["jasmine", "lemongrass", "green grape", "honey", "tea-like"],
        "Typica Mejorado 특유의 floral한 향 — 재스민, 레몬그라스, 그리고 청포도의 산뜻한 산미가 "
        "돋보입니다. 꿀 같은 단맛과 tea-like한 질감이 길게 이어집니다.",
    ),
    (
        "Mbeya Peaberry", NORTHFIELD, "Tanzania", "Mbeya", "washed",
        ["Bourbon", "Kent"], "medium", (7.0, 6.8, 3.0, 5.6, 8.2), 225,
        ["black cherry", "lemon", "brown sugar", "cocoa"],
        "Bright black-cherry and lemon acidity with a juicy, brown-sugar sweetness. The peaberry "
        "beans roast evenly for a crisp, clean cup with a cocoa finish.",
    ),
    (
        "Mount Elgon Natural", FINCH, "Uganda", "Mount Elgon (Bugisu)", "natural",
        ["SL14", "SL28"], "medium", (5.6, 7.2, 4.0, 7.2, 8.2), 160,
        ["blackberry", "dark chocolate", "rum", "syrupy"],
        "Winey blackberry and dark chocolate with a hint of rum, wrapped in a heavy, syrupy body. "
        "A bold natural that shines as a single-origin espresso.",
    ),
    # ------------------------------------------------------------------ blends
    (
        "Harbour Light Espresso", YEONGDO, None, None, "other",
        [], "medium", (5.0, 7.0, 4.2, 7.0, 8.1), 470,
        ["milk chocolate", "hazelnut", "berry", "caramel"],
        "브라질과 콜롬비아, 에티오피아를 블렌딩해 밀크초콜릿과 헤이즐넛의 고소함 위에 베리의 "
        "산뜻함을 더했습니다. 크레마가 풍부하고, 라떼로 만들면 캐러멜 같은 단맛이 살아납니다.",
    ),
    (
        "Seochon House Blend", SEOCHON, None, None, "other",
        [], "dark", (2.2, 5.0, 8.0, 8.2, 7.3), 500,
        ["dark chocolate", "roasted barley", "smoky", "bold"],
        "진한 다크초콜릿과 볶은 보리, 스모키한 향이 어우러진 클래식한 강배전 블렌드입니다. 묵직한 "
        "바디와 길고 쌉쌀한 여운이 우유와 만나면 한층 부드러워집니다.",
    ),
    (
        "Night Owl Espresso", EMBER, None, None, "other",
        [], "dark", (2.6, 5.6, 7.6, 8.4, 7.6), 460,
        ["bittersweet cocoa", "black cherry", "burnt sugar", "thick crema"],
        "Dense and brooding: bittersweet cocoa, black cherry and burnt sugar under a thick, "
        "lingering crema. Low in acid and built to cut through milk.",
    ),
    (
        "Autumn Seasonal Espresso", FINCH, None, None, "other",
        [], "medium-light", (6.8, 7.6, 3.2, 6.2, 8.5), 0,
        ["candied orange", "red berries", "milk chocolate", "vibrant"],
        "Our fruit-forward espresso pairs a washed Ethiopian with a Colombian honey lot for "
        "candied orange, red berries and milk chocolate. Sweet and vibrant as a straight shot, "
        "and like a jaffa cake in a flat white.",
    ),
    (
        "Morning Ritual Blend", NORTHFIELD, None, None, "other",
        [], "medium", (4.8, 6.8, 3.8, 6.4, 8.0), 440,
        ["toasted nuts", "milk chocolate", "red apple", "smooth"],
        "Our everyday drip blend of Brazilian and Guatemalan coffees: toasted nuts, milk "
        "chocolate and a touch of red apple. Smooth, sweet and endlessly drinkable.",
    ),
    (
        "Bonfire French Roast", EMBER, None, None, "other",
        [], "dark", (1.6, 4.2, 8.8, 8.2, 6.8), 380,
        ["campfire smoke", "molasses", "charred oak", "bittersweet"],
        "Roasted well past second crack: campfire smoke, dark molasses and charred oak, with a "
        "bittersweet, lingering finish. For those who like their coffee loud.",
    ),
    (
        "Decaf Espresso Blend", COPPER, None, None, "other",
        [], "medium-dark", (3.6, 6.4, 5.0, 7.0, 7.8), 270,
        ["cocoa", "toasted hazelnut", "caramelised sugar", "decaf"],
        "A water-process decaf espresso of Brazilian and Colombian coffees with real substance: "
        "cocoa, toasted hazelnut and a caramelised-sugar finish. Smooth and round with milk, "
        "sweet enough to drink straight.",
    ),
    (
        "Dalmaji Night Blend", DALMAJI, None, None, "other",
        [], "medium-dark", (3.8, 6.4, 5.6, 7.8, 8.0), 330,
        ["dark chocolate", "cashew", "cherry", "syrupy"],
        "달맞이 언덕의 밤을 닮은 블렌드 — 다크초콜릿, 구운 캐슈넛, 그리고 체리의 은은한 산미가 "
        "어우러집니다. 에스프레소로 추출하면 시럽 같은 바디와 단맛이 진하게 살아납니다.",
    ),
    (
        "Hanbit Filter Blend", HANBIT, None, None, "washed",
        [], "light", (8.2, 7.2, 1.8, 4.6, 8.7), 220,
        ["lemon tea", "peach", "blackcurrant", "honey", "floral"],
        "A light-roasted filter blend of washed Ethiopia and Kenya: lemon tea, peach and "
        "blackcurrant with a honeyed finish. Bright and floral, made for a slow Sunday pour-over.",
    ),
    (
        "Jeju Sunrise Espresso", JEJU, None, None, "other",
        [], "medium", (4.8, 7.0, 4.0, 6.8, 8.1), 310,
        ["nougat", "milk chocolate", "orange", "balanced"],
        "Brazil과 Guatemala 블렌드로 만든 데일리 에스프레소. 누가, 밀크초콜릿, 그리고 살짝 오렌지 "
        "같은 산미가 balanced하게 어우러집니다.",
    ),
    (
        "Italian Roast Espresso", SEOCHON, None, None, "other",
        [], "dark", (2.0, 4.8, 8.4, 8.6, 7.1), 150,
        ["dark roast", "dark cocoa", "burnt sugar", "heavy body"],
        "이탈리안 로스트로 깊게 볶아 다크 코코아와 탄 설탕의 쌉싸름함이 강하게 느껴집니다. 산미는 "
        "거의 없고, 무거운 바디가 진한 라떼와 잘 어울립니다.",
    ),
    (
        "Vienna Roast Huehuetenango", NORTHFIELD, "Guatemala", "Huehuetenango", "washed",
        ["Bourbon", "Caturra"], "medium-dark", (4.0, 6.0, 5.8, 7.4, 7.8), 200,
        ["dark chocolate", "toasted walnut", "clove", "bittersweet"],
        "A Vienna roast that trades Huehue's bright fruit for depth: dark chocolate, toasted "
        "walnut and a hint of clove, finishing bittersweet and long.",
    ),
]
# fmt: on
