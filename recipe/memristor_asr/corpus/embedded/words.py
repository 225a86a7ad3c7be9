"""Word inventory of the embedded corpus's sentence generator (our own lists, TED-talk flavoured).

Each open-class list is in rough order of everyday frequency: the generator draws with Zipf
weights over this order, so the first words repeat often and the tail is rare (as in real
speech). Inflected forms are derived by rule, with the irregular ones listed; a form is only
used when the CMU dictionary has a pronunciation for it (see :mod:`.grammar`).
"""
from __future__ import annotations

from typing import Dict, List

__all__ = ["NOUNS", "PLURAL_ONLY_NOUNS", "IRREGULAR_PLURALS", "VERBS", "INTRANSITIVE_ONLY_VERBS",
           "INTRANSITIVE_VERBS", "CLAUSE_VERBS", "CONTROL_VERBS", "IRREGULAR_PAST", "DOUBLING_VERBS",
           "ADJECTIVES", "ADVERBS", "INTENSIFIERS", "PREPOSITIONS", "NUMBERS", "SPEAKER_FIRST_NAMES",
           "SPEAKER_LAST_NAMES", "INVENTED_NAMES", "CLITIC_PRONUNCIATIONS", "verb_forms", "plural"]


def _words(block: str) -> List[str]:
    seen, out = set(), []
    for w in block.split():
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


NOUNS = _words("""
time year way world day thing life idea problem question story person child man woman country
city place work system brain data energy water money food family friend school home house
community company government technology science research study computer machine robot network
information image picture video phone book word language music art design model project process
change future history moment point part number group kind example reason answer experience
power health disease cancer cell body heart hand eye face head mind voice sound light color
planet earth ocean sea river island forest tree plant flower animal bird fish insect species
climate weather temperature car road street building space star galaxy universe moon sun
mission rocket satellite camera screen map student teacher doctor patient scientist engineer
designer artist writer leader parent mother father son daughter brother sister baby girl boy
kid team player game sport film movie show speech talk audience stage room table door window
wall floor bed chair market price cost dollar economy business industry product service
customer job worker office factory farm farmer village town region continent nation state law
policy rule right freedom war peace army soldier weapon crime prison police court election
vote university lab experiment theory result evidence fact truth mistake risk chance
opportunity challenge solution goal plan strategy decision choice value culture society
religion emotion feeling fear hope love happiness pain stress memory dream attention behavior
habit skill knowledge education lesson class course test grade paper letter message email
internet website software code program algorithm device sensor chip battery engine fuel oil gas
electricity wind wave storm fire ice snow rain desert mountain valley field garden park beach
coast sky cloud air oxygen molecule atom protein gene virus drug medicine treatment vaccine
hospital clinic surgery blood bone skin muscle nerve neuron signal pattern shape size scale
level rate speed distance length weight volume amount quality material metal plastic glass
wood stone rock sand soil dust surface edge center corner line circle structure bridge tower
ship boat plane train bicycle truck bus ticket trip journey adventure border neighborhood
apartment kitchen innovation creativity curiosity empathy kindness courage success failure
purpose meaning identity dignity justice equality poverty wealth privacy security democracy
news journalist photograph photographer century decade minute hour week month morning night
evening weekend summer winter spring autumn age generation population crowd village society
conversation argument discussion debate interview survey report article magazine newspaper
library museum gallery theater concert song dance painting sculpture poem novel author reader
character hero enemy stranger neighbor partner colleague boss employee manager founder owner
investor entrepreneur startup budget profit loan tax bank account contract deal agreement
ocean coral reef whale shark dolphin elephant lion tiger monkey chimpanzee dog cat horse cow
pig chicken bee ant spider butterfly mosquito worm seed root leaf fruit vegetable rice wheat
corn bread coffee tea sugar salt milk egg meat meal dinner breakfast lunch restaurant hotel
airport station highway tunnel dam pipe wire cable tool hammer knife needle bottle box bag
pocket shirt shoe hat dress uniform mask glove key lock clock watch mirror lamp candle
engine motor wheel wing tail nose mouth ear tooth tongue neck shoulder arm finger leg knee
foot stomach lung liver kidney brain blood sleep exercise diet nutrition hunger thirst
infection fever injury wound scar therapy vision hearing touch smell taste sense instinct
intuition logic reason wisdom genius talent passion ambition desire courage patience
gratitude compassion loneliness anxiety depression addiction trauma recovery healing
friendship marriage wedding funeral birthday holiday festival ceremony tradition ritual
myth legend mystery secret surprise gift reward prize medal trophy record champion victory
defeat crisis disaster accident earthquake flood drought famine epidemic pandemic refugee
migrant immigrant citizen tribe empire kingdom king queen president minister senator judge
lawyer officer prisoner victim witness suspect detective spy agent volunteer activist
protest movement revolution campaign slogan symbol flag statue monument temple church
mosque castle palace ruin fossil dinosaur skeleton mammal reptile organism microbe algae
ecosystem habitat wilderness jungle swamp glacier volcano canyon cave tide current
horizon orbit telescope microscope laser magnet circuit transistor processor database
server cloud platform app interface keyboard pixel graphic animation simulation prototype
blueprint sketch diagram chart graph equation formula calculation statistic percentage
average sample variable factor element component feature function method technique
approach framework principle concept notion assumption hypothesis observation measurement
discovery invention patent license standard protocol network signal frequency spectrum
""")

# Nouns that only occur in the plural in the generator.
PLURAL_ONLY_NOUNS = _words("people")

IRREGULAR_PLURALS: Dict[str, str] = {
    "person": "people", "child": "children", "man": "men", "woman": "women", "life": "lives",
    "foot": "feet", "tooth": "teeth", "knife": "knives", "leaf": "leaves", "species": "species",
    "fish": "fish", "mouse": "mice", "half": "halves", "hypothesis": "hypotheses",
    "crisis": "crises", "analysis": "analyses", "wife": "wives", "shelf": "shelves",
    "thief": "thieves", "wolf": "wolves", "phenomenon": "phenomena", "criterion": "criteria",
    "news": "", "information": "", "knowledge": "", "electricity": "", "oxygen": "",
    "evidence": "", "furniture": "", "happiness": "", "poverty": "", "wealth": "", "privacy": "",
    "democracy": "", "education": "", "nutrition": "", "creativity": "", "curiosity": "",
    "empathy": "", "kindness": "", "courage": "", "dignity": "", "justice": "", "equality": "",
    "patience": "", "gratitude": "", "compassion": "", "loneliness": "", "anxiety": "",
    "depression": "", "wisdom": "", "logic": "", "hunger": "", "thirst": "", "sand": "",
    "soil": "", "dust": "", "rice": "", "wheat": "", "corn": "", "sugar": "", "salt": "", "milk": "",
    "meat": "", "bread": "", "coffee": "", "tea": "", "air": "", "money": "", "music": "",
    "software": "", "weather": "", "research": "", "health": "", "data": "", "blood": "",
    "sleep": "", "diet": "", "wilderness": "", "algae": "", "stress": "", "advice": "",
}  # "" marks an uncountable noun (no plural use)

VERBS = _words("""
make take get see know find give tell show build create change use need want try help start
understand learn teach design measure solve study explore discover imagine believe remember
forget feel hear think say love hate like bring buy sell pay read write draw watch follow lead
move save protect destroy kill fix replace connect share send carry open close fill test train
collect count track grow feed drive ride fly catch throw hit cut break hold keep leave lose win
miss meet visit join reach cross enter push pull lift turn plant clean cook eat drink wear hide
steal print record capture observe predict analyze simulate transform improve reduce increase
produce deliver provide support develop invent launch publish happen work live die fall rise
run walk sleep wait talk laugh cry smile travel disappear appear exist matter begin stop
continue succeed fail survive dance sing swim notice hope argue suggest expect decide plan
choose refuse spend face describe explain ask answer call check look listen play place put
set sit stand speak shake wake seek fight allow accept add agree avoid build consider cover
create deal discuss enjoy finish imagine include involve join kick knock label manage mention
mix offer order paint pass pick prepare prevent promise prove raise realize recognize relax
remove repeat report rescue respect return review sign solve sort spread start store
struggle suffer supply surround survey taste treat trust upload vote warn wash waste wonder
worry zoom borrow breathe calculate celebrate climb compare compete complain connect copy
decorate deliver depend divide doubt download earn encourage escape estimate examine exchange
explode export fold forgive freeze gather guess hug hunt identify ignore import inspire
install interrupt judge jump kiss land last lend locate marry memorize navigate negotiate
operate organize pack paint pour pray pretend program protect punish question receive
recycle reflect remind rent repair reply rescue retire satisfy scan scream search select
shine shoot shout shrink sink slide smell solve split squeeze stretch suspect swing
tap teach tear translate trap unite unlock vanish vote weigh whisper wipe wrap yell
""")

# Verb classes: no object at all; usable without object; with a that-clause; with a to-infinitive.
INTRANSITIVE_ONLY_VERBS = set(_words("""
happen live die fall rise walk sleep wait laugh cry smile disappear appear exist matter succeed
fail dance swim struggle suffer worry relax retire vanish explode jump land compete complain
pray talk travel
"""))
INTRANSITIVE_VERBS = set(_words("""
happen work live die grow fall rise run walk sleep wait talk laugh cry smile travel disappear
appear exist matter begin stop continue succeed fail survive dance sing swim move change
struggle suffer worry relax retire escape vanish explode jump land compete complain pray
"""))
CLAUSE_VERBS = set(_words("""
think know believe realize say discover find notice hope feel learn remember understand show
argue suggest imagine expect decide explain mention promise prove guess doubt suspect wonder
"""))
CONTROL_VERBS = set(_words("""
want need try decide start begin learn hope plan continue choose refuse forget promise agree
pretend struggle expect offer prepare
"""))

IRREGULAR_PAST: Dict[str, str] = {
    "make": "made", "take": "took", "get": "got", "see": "saw", "know": "knew", "find": "found",
    "give": "gave", "tell": "told", "build": "built", "teach": "taught", "understand": "understood",
    "think": "thought", "say": "said", "feel": "felt", "hear": "heard", "bring": "brought",
    "buy": "bought", "sell": "sold", "pay": "paid", "read": "read", "write": "wrote", "draw": "drew",
    "lead": "led", "grow": "grew", "fall": "fell", "rise": "rose", "run": "ran", "begin": "began",
    "forget": "forgot", "hold": "held", "keep": "kept", "leave": "left", "lose": "lost",
    "win": "won", "meet": "met", "catch": "caught", "throw": "threw", "hit": "hit", "cut": "cut",
    "break": "broke", "fly": "flew", "ride": "rode", "drive": "drove", "feed": "fed",
    "sleep": "slept", "eat": "ate", "drink": "drank", "wear": "wore", "hide": "hid",
    "steal": "stole", "choose": "chose", "sing": "sang", "swim": "swam", "spend": "spent",
    "send": "sent", "put": "put", "set": "set", "sit": "sat", "stand": "stood", "speak": "spoke",
    "shake": "shook", "wake": "woke", "seek": "sought", "fight": "fought", "spread": "spread",
    "freeze": "froze", "forgive": "forgave", "lend": "lent", "shine": "shone", "shoot": "shot",
    "shrink": "shrank", "sink": "sank", "slide": "slid", "split": "split", "swing": "swung",
    "tear": "tore", "deal": "dealt",
}
# Verbs whose final consonant doubles before -ed / -ing.
DOUBLING_VERBS = set(_words("""
stop plan drop ship step grab rob admit commit occur prefer refer control begin run swim get cut
hit put sit win shut set let forget chat hug nod slip trap tap split program
"""))

ADJECTIVES = _words("""
good new great big small important different little large real right hard high old young long
possible simple clear amazing beautiful incredible strong powerful human natural social global
local digital physical mental public private personal political economic scientific medical
technical modern ancient whole entire single common rare complex basic fundamental huge tiny
massive enormous deep dark bright hot cold warm cool dry wet green red blue black white yellow
fast slow quick heavy soft safe dangerous healthy sick poor rich cheap expensive free strange
weird interesting boring exciting curious creative smart intelligent happy sad angry proud
lucky difficult easy obvious true false perfect terrible wonderful fantastic remarkable
extraordinary ordinary normal special unique similar familiar visible invisible electric solar
nuclear chemical biological genetic urban rural wild quiet loud clean dirty empty full fresh
early late recent current main major final critical central environmental sustainable
renewable efficient effective significant serious tough honest brave gentle fair open
beautiful ugly famous popular successful useful useless helpful harmful careful crazy funny
silly serious strange tall short wide narrow thick thin sharp smooth rough flat round square
heavy bright pale golden silver wooden plastic metallic liquid solid frozen invisible hidden
broken missing lost tired hungry lonely nervous calm excited worried confused surprised
grateful generous stubborn ambitious patient polite rude friendly hostile peaceful violent
ancient medieval tropical coastal remote distant nearby foreign domestic national international
universal infinite tiny microscopic gigantic precise accurate random complicated elegant
""")

ADVERBS = _words("""
really actually just also still always never often sometimes usually together again today now
here there already even only maybe probably certainly suddenly finally quickly slowly easily
completely exactly simply literally basically recently eventually especially clearly obviously
seriously totally almost nearly instead everywhere somewhere anywhere tomorrow yesterday
""")

INTENSIFIERS = _words("very really incredibly pretty so too quite extremely remarkably surprisingly")

PREPOSITIONS = _words("""
in on at from with for about into through around across between without under over behind near
inside after before during beyond toward against along among outside above below beside within
""")

NUMBERS = _words("""
two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty
hundred thousand million billion
""")

# Talk ids look like TED-LIUM's ``FirstnameLastname_2009``; these names are never spoken.
SPEAKER_FIRST_NAMES = _words("""
Aaron Abigail Adam Alice Amanda Andrew Anna Ben Beth Carl Carol Daniel Diana Ethan Eva Frank
Grace Hannah Henry Iris Jack Julia Kevin Laura Leo Lisa Mark Maria Nathan Nina Oscar Olivia
Paul Rachel Sam Sarah Tom Vera Victor Zoe
""")
SPEAKER_LAST_NAMES = _words("""
Adler Baker Bell Brooks Carter Chen Cole Diaz Evans Fischer Garcia Gray Hall Hayes Hughes Ito
Jensen Kim Klein Lopez Meyer Miller Moreno Nash Novak Ortiz Park Patel Reed Rossi Shaw Silva
Stone Tanaka Turner Vogel Walsh Wong Young Zimmer
""")

# Made-up words that no dictionary knows: the train segments containing them exercise the
# lexicon job's "no pronunciation anywhere -> drop the segment and count it" path.
INVENTED_NAMES = _words("zorbleck quimtrax vellandro frobisklet mauvrenik")

# Pronunciations of TED-LIUM's split-off clitics and contraction stems that the CMU dictionary
# lacks or spells as letter names. ``'d`` and ``'ll`` are written with the two erroneous
# pronunciations of the real TEDLIUM.152k.dic so that the lexicon job's fixes are exercised.
CLITIC_PRONUNCIATIONS: Dict[str, List[List[str]]] = {
    "'s": [["Z"], ["S"], ["IH", "Z"]],
    "'re": [["ER"], ["R"]],
    "'m": [["M"]],
    "'ve": [["V"]],
    "'t": [["T"]],
    "'d": [["D", "IY"]],
    "'ll": [["EH", "L", "EH", "L"]],
    "didn": [["D", "IH", "D", "AH", "N"]],
    "doesn": [["D", "AH", "Z", "AH", "N"]],
    "isn": [["IH", "Z", "AH", "N"]],
    "wasn": [["W", "AA", "Z", "AH", "N"]],
    "aren": [["AA", "R", "AH", "N"]],
    "couldn": [["K", "UH", "D", "AH", "N"]],
    "wouldn": [["W", "UH", "D", "AH", "N"]],
    "shouldn": [["SH", "UH", "D", "AH", "N"]],
}

_VOWELS = "aeiou"


def plural(noun: str) -> str:
    """English plural of ``noun`` ("" for uncountable nouns listed in IRREGULAR_PLURALS)."""
    if noun in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "sh", "ch", "x", "z")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in _VOWELS:
        return noun[:-1] + "ies"
    return noun + "s"


def verb_forms(base: str) -> Dict[str, str]:
    """The base, third-person singular, past and -ing forms of ``base``."""
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        third = base + "es"
    elif base.endswith("y") and base[-2] not in _VOWELS:
        third = base[:-1] + "ies"
    else:
        third = base + "s"
    double = base in DOUBLING_VERBS
    if base in IRREGULAR_PAST:
        past = IRREGULAR_PAST[base]
    elif double:
        past = base + base[-1] + "ed"
    elif base.endswith("e"):
        past = base + "d"
    elif base.endswith("y") and base[-2] not in _VOWELS:
        past = base[:-1] + "ied"
    else:
        past = base + "ed"
    if double:
        ing = base + base[-1] + "ing"
    elif base.endswith("ie"):
        ing = base[:-2] + "ying"
    elif base.endswith("e") and not base.endswith(("ee", "ye", "oe")):
        ing = base[:-1] + "ing"
    else:
        ing = base + "ing"
    return {"base": base, "third": third, "past": past, "ing": ing}
