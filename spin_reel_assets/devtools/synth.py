"""Synthetic MovieLens-25M-scale inputs: ``ratings.csv``, ``movies.csv``, ``links.csv`` and the Kaggle TMDB v11 file.

The files have the exact layouts of the real ones (MovieLens: CRLF line ends, titles quoted only when they hold a
comma or a quote; TMDB: LF, header and every field double-quoted), so the pipeline reads them like the real data.

The data come from one latent model, so both halves of the hybrid recommender have something to find:

- every user and movie has a latent vector (``LATENT_DIM``) and a bias; a rating is the quantile mapping of
  ``user bias + movie bias + user·movie + noise`` onto the MovieLens half-star distribution (``RATING_COUNTS``),
  with cut points taken from the scores of the first ~4M ratings (all of them for smaller sets);
- movies are chosen by each user without replacement from a Zipf-like popularity law, user activity is
  log-normal with at least ``MIN_USER_RATINGS`` ratings, as in MovieLens;
- genres, keywords, overviews, taglines and title words come from genre directions and themes in the same latent
  space, so content similarity is correlated with the collaborative one;
- TMDB vote_count/popularity follow MovieLens popularity, vote_average the movie's mean rating.

Everything is deterministic for a seed (one ``SeedSequence`` per block) and streamed: ratings are generated and
written per block of users (about ``BLOCK_RATINGS`` rows), TMDB rows per ``TMDB_CHUNK``; only per-user and
per-movie arrays live for the whole run. No Dagster import: the CLI (``spin-reel synth``) and the tests use it directly.
"""

from __future__ import annotations

import gzip as gzip_module
import math
import os
import string
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# --- MovieLens facts ---------------------------------------------------------------------------------------------

RATING_VALUES = ("0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0")
# Number of each half-star rating in data/sample/ratings.csv.gz (MovieLens ml-latest-small, 100,836 ratings);
# the probabilities are these counts over their sum.
RATING_COUNTS = (1370, 2811, 1791, 7551, 5550, 20047, 13136, 26818, 8551, 13211)
RATING_PROBS = np.array(RATING_COUNTS, dtype=np.float64) / sum(RATING_COUNTS)

RATINGS_HEADER = "userId,movieId,rating,timestamp"
MOVIES_HEADER = "movieId,title,genres"
LINKS_HEADER = "movieId,imdbId,tmdbId"
TMDB_COLUMNS = (
    "id", "title", "vote_average", "vote_count", "status", "release_date", "revenue", "runtime", "adult",
    "backdrop_path", "budget", "homepage", "imdb_id", "original_language", "original_title", "overview",
    "popularity", "poster_path", "tagline", "genres", "production_companies", "production_countries",
    "spoken_languages", "keywords",
)
FILE_NAMES = {
    "ratings": "ratings.csv", "movies": "movies.csv", "links": "links.csv", "tmdb": "TMDB_movie_dataset_v11.csv",
}
ML_EOL = "\r\n"  # the MovieLens csv files end their lines with CRLF; the Kaggle TMDB file with LF
NO_GENRES = "(no genres listed)"

# (MovieLens name, TMDB name, number of movies with it). MovieLens counts: data/sample/movies.csv.gz (9,742 movies);
# the two TMDB-only genres: data/sample/TMDB_movie_dataset_v11.csv.gz (13,830 movies), scaled to 9,742.
# MovieLens names are in alphabetical order, the order MovieLens lists them in.
GENRES = (
    ("Action", "Action", 1828), ("Adventure", "Adventure", 1263), ("Animation", "Animation", 611),
    ("Children", "Family", 664), ("Comedy", "Comedy", 3756), ("Crime", "Crime", 1199),
    ("Documentary", "Documentary", 440), ("Drama", "Drama", 4361), ("Fantasy", "Fantasy", 779),
    ("Film-Noir", "Crime", 87), ("Horror", "Horror", 978), ("IMAX", None, 158), ("Musical", "Music", 334),
    ("Mystery", "Mystery", 573), ("Romance", "Romance", 1596), ("Sci-Fi", "Science Fiction", 980),
    ("Thriller", "Thriller", 1894), ("War", "War", 382), ("Western", "Western", 167),
    (None, "History", 349), (None, "TV Movie", 95),
)
GENRE_SHARES = np.array([count for _, _, count in GENRES], dtype=np.float64) / 9742
NO_GENRES_SHARE = 34 / 9742  # "(no genres listed)" in data/sample/movies.csv.gz
ML_GENRE_COLUMNS = [i for i, (ml, _, _) in enumerate(GENRES) if ml]
TMDB_GENRE_NAMES = sorted({tmdb for _, tmdb, _ in GENRES if tmdb})
_GENRE_INDEX = {ml: i for i, (ml, _, _) in enumerate(GENRES) if ml}

# --- model parameters --------------------------------------------------------------------------------------------

LATENT_DIM = 16
USER_BIAS_SD = 0.35
MOVIE_BIAS_SD = 0.35
POPULARITY_QUALITY = 0.12  # popular movies are rated a little higher, as in MovieLens
INTERACTION_SD = 0.65  # standard deviation of user·movie
NOISE_SD = 0.45
GENRE_NOISE_SD = 0.6  # genre affinity = movie·genre direction (standardised) + noise
THEME_NOISE = 0.45  # noise when a movie picks its two themes
MIN_USER_RATINGS = 20  # MovieLens includes users with at least 20 ratings
USER_ACTIVITY_SIGMA = 1.39  # log-normal ratings per user above the minimum (ML-25M: mean 154, median 71)
MAX_USER_SHARE = 0.8  # no user rates more than this share of the movies
# movie choice weight ∝ (rank + ZIPF_OFFSET_SCALE × √movies) ** -ZIPF_EXPONENT. Checked against the rank-count
# curve of data/sample/ratings.csv.gz (610 users, 9,742 movies: most rated movie 54% of users, top 10% of movies
# 60% of ratings, median movie 3 ratings) and the published shape of ML-25M (most rated movie ~50% of users).
ZIPF_EXPONENT = 1.5
ZIPF_OFFSET_SCALE = 0.7
EMPTY_TMDB_SHARE = 0.0009  # links without a tmdbId (8 of 9,742 in the sample)
ADULT_SHARE = 0.02  # of the unrated TMDB catalogue rows
DUPLICATE_EVERY = 5000  # one duplicated TMDB id per this many TMDB rows (at least one)

BLOCK_RATINGS = 1 << 20  # ratings generated and written together
TMDB_CHUNK = 1 << 16
CALIBRATION_RATINGS = 4_000_000  # the first (at least) this many ratings place the quantile thresholds
GZIP_LEVEL = 1  # zlib level of --gzip: 6 would be 6× slower for ~10% smaller files

START_TS = int(np.datetime64("1995-01-09T00:00:00", "s").astype(np.int64))
END_TS = int(np.datetime64("2023-12-31T23:59:59", "s").astype(np.int64))
FIRST_YEAR, LAST_YEAR = 1900, 2023
DAY = 86_400

LIMITS = {"ratings": 2_000_000_000, "users": 50_000_000, "movies": 5_000_000, "tmdb_movies": 20_000_000}

# --- vocabularies ------------------------------------------------------------------------------------------------
# Each theme: the MovieLens genres (space-separated) that orient it in latent space, then ';'-separated keywords (at least
# KEYWORD_SLOTS), title nouns, roles (lower case, with article), goals, settings and taglines.

KEYWORD_SLOTS = 12
THEMES = (
    ("Sci-Fi Adventure", "space travel; spacecraft; alien; astronaut; distant planet; space station; first contact; "
     "wormhole; galaxy; cryosleep; space colony; mars", "Star; Orbit; Horizon; Nebula; Signal; Eclipse; Voyager; Gravity",
     "a young pilot; a stranded astronaut; a disgraced starship captain; an alien envoy; a mining crew",
     "must reach the edge of the known galaxy; answers a distress call from a dead moon; races to stop a rogue comet; "
     "discovers a signal older than humanity; fights to bring the crew home",
     "aboard a failing starship; on a frozen moon; at the far end of the solar system; in orbit around a dying sun",
     "In space, no one is coming.; The universe is listening."),
    ("Sci-Fi Thriller", "artificial intelligence; robot; hacker; virtual reality; cyberpunk; android; surveillance; "
     "computer virus; simulation; near future; genetic engineering; cloning", "Code; Protocol; Machine; Circuit; Echo; Ghost; Pulse; Matrix",
     "a reclusive programmer; a corporate hacker; a synthetic woman; a rookie data analyst; a cybernetics engineer",
     "uncovers an artificial intelligence that has learned to lie; must escape a simulation built to keep her in; "
     "is hunted after stealing a line of forbidden code; questions what is real once the memories start to fail",
     "in a city run by machines; inside a tech giant's headquarters; in the neon sprawl of 2077; deep in the network",
     "Trust no signal.; The future is watching."),
    ("Sci-Fi Action", "dystopia; post-apocalyptic future; rebellion; totalitarian regime; resistance; wasteland; "
     "survival; mutant; oppression; uprising; martial law; futuristic city", "Ashes; Division; Citadel; Reckoning; Uprising; Zero; Exodus; Dominion",
     "a reluctant rebel; a former enforcer; a teenage courier; a band of survivors; a wasteland scavenger",
     "leads an uprising against the council; crosses a ruined continent with a cure; must choose between the regime and her family; "
     "fights for the last source of clean water",
     "after the collapse; behind the walls of the last city; in a scorched wasteland; under a regime that erased history",
     "Freedom has a price.; Rise up."),
    ("Crime Thriller", "heist; bank robbery; con artist; double cross; safecracker; getaway; casino; money laundering; "
     "diamond; betrayal; undercover; stolen money", "Job; Score; Vault; Take; Deal; Getaway; Diamond; Racket",
     "a charming thief; a retired safecracker; a crew of professionals; a crooked accountant; a getaway driver",
     "plans one last job before going straight; is double-crossed after the score of a lifetime; "
     "must pull off an impossible robbery in a single night; tries to launder a fortune before the mob notices",
     "in the casinos of Las Vegas; across the rooftops of Paris; in a sleepy border town; inside the most secure bank in Europe",
     "Everyone wants a piece.; One last job."),
    ("Crime Mystery", "detective; murder; investigation; serial killer; police; whodunit; missing person; clue; "
     "homicide detective; forensic; cold case; suspect", "Murder; Case; Witness; Alibi; Verdict; Motive; Evidence; Shadow",
     "a world-weary detective; a rookie homicide investigator; an amateur sleuth; a forensic pathologist; a small-town sheriff",
     "investigates a string of murders linked by a single riddle; reopens a cold case that everyone wants forgotten; "
     "must find a missing girl before the trail goes cold; hunts a killer known only as \"the Collector\"",
     "in a rain-soaked city; in a remote village where everyone has a secret; in 1970s New York; on an isolated island",
     "Every clue leads deeper.; The truth is buried."),
    ("Crime Drama", "gangster; mafia; organized crime; drug cartel; mob boss; loyalty; corruption; crime family; "
     "prohibition; hitman; gang war; informant", "Family; Empire; Blood; Street; Kingpin; Code; Brotherhood; Underworld",
     "a young hustler; the son of a crime boss; a weary hitman; an ambitious lieutenant; a corrupt cop",
     "rises through the ranks of a crime family; tries to get out of the life for good; is caught between two warring gangs; "
     "must decide where his loyalty lies",
     "in Prohibition-era Chicago; on the streets of Naples; in 1980s Miami; in the back rooms of Little Italy",
     "Blood is thicker.; There is no way out."),
    ("Action Thriller", "spy; secret agent; espionage; cia; assassin; conspiracy; double agent; terrorist; hostage; "
     "chase; government; special forces", "Agent; Target; Protocol; Asset; Extraction; Sniper; Cipher; Directive",
     "a burned spy; an elite operative; a retired assassin; a young analyst; a bodyguard with a past",
     "is framed for an assassination and must clear his name; races to stop a stolen warhead; "
     "uncovers a conspiracy at the heart of the government; must protect a witness from the agency that trained her",
     "across Europe; in the middle of a hostage crisis; from Moscow to Marrakech; behind enemy lines",
     "Trust no one.; The mission is everything."),
    ("War", "world war ii; soldier; battle; army; war; nazi; prisoner of war; resistance fighter; pilot; navy; "
     "trench warfare; military", "War; Front; Battalion; Siege; Flag; Trench; Frontline; Glory",
     "a young private; a battle-hardened sergeant; a field nurse; a fighter pilot; a platoon of conscripts",
     "must hold a bridge at all costs; is trapped behind enemy lines; leads a rescue mission through occupied territory; "
     "struggles to survive the last days of the war",
     "during the Second World War; on the beaches of Normandy; in the jungles of Vietnam; on the Eastern Front",
     "Brothers in arms.; Courage has no rank."),
    ("Western", "western; cowboy; gunfight; outlaw; sheriff; frontier; bounty hunter; wild west; revenge; ranch; "
     "stagecoach; gold rush", "Gun; Ridge; Canyon; Outlaw; Bounty; Rider; Frontier; Dust",
     "a lone gunslinger; an aging sheriff; a bounty hunter; a widowed rancher; a young outlaw",
     "seeks revenge on the gang that burned his ranch; must bring a killer to justice across the desert; "
     "defends a frontier town from a ruthless cattle baron; rides out after a stolen shipment of gold",
     "on the Texas frontier; in a lawless mining town; across the badlands; in the final days of the Wild West",
     "Justice rides alone.; The West was never won."),
    ("Horror Mystery", "haunted house; ghost; supernatural; demon; possession; exorcism; curse; paranormal; "
     "evil spirit; seance; witch; occult", "Haunting; Curse; Ritual; Séance; Coven; Hollow; Crypt; Omen",
     "a grieving widow; a skeptical paranormal investigator; a family of five; a young priest; a lonely child",
     "moves into a house with a terrible past; is haunted by a presence that will not let go; "
     "must break a curse before the next full moon; discovers the village's dark ritual",
     "in an old Victorian mansion; in a remote farmhouse; in a village cut off by snow; in the woods at night",
     "It knows your name.; Do not look behind you."),
    ("Horror Thriller", "slasher; serial killer; masked killer; survival; cabin; gore; stalker; teenager; zombie; "
     "creature; blood; home invasion", "Night; Scream; Cabin; Hunt; Blood; Massacre; Prey; Fear",
     "a group of college friends; a final girl; a babysitter; a stranded family; a small-town deputy",
     "is stalked by a masked killer; must survive the night against something in the woods; "
     "fights off an outbreak that turns the town into the undead; is trapped with a killer among them",
     "at a lakeside cabin; on Halloween night; in an abandoned hospital; in a town overrun by the dead",
     "Nobody gets out alive.; Survive the night."),
    ("Romance", "love; romance; love at first sight; forbidden love; love triangle; affair; first love; "
     "unrequited love; letter; longing; second chance; marriage", "Love; Heart; Summer; Letters; Promise; Kiss; Moonlight; Rosie",
     "a shy bookseller; a struggling painter; a widowed father; a lonely stranger; a young nurse",
     "falls for the one person she cannot have; meets the love of his life on the last night of summer; "
     "reconnects with a first love after twenty years; must choose between duty and the heart",
     "in Paris; during one unforgettable summer; on the coast of Ireland; in post-war London",
     "Some loves last forever.; Follow your heart."),
    ("Romance Comedy", "romantic comedy; wedding; dating; bride; best friend; blind date; misunderstanding; "
     "engagement; new york city; holiday; matchmaker; ex-boyfriend", "Wedding; Date; Proposal; Bride; Crush; Honeymoon; Valentine; Mr. Right",
     "a commitment-phobic columnist; a wedding planner; a rival baker; a hopeless romantic; a divorced lawyer",
     "pretends to be engaged to save her job; falls for her best friend's fiancé; agrees to a fake relationship for one week; "
     "tries to win back his ex before her wedding",
     "in Manhattan; during the holidays; at a destination wedding in Greece; in a small town that loves gossip",
     "Love is complicated.; Say yes."),
    ("Children Animation", "animation; talking animal; friendship; cartoon; family; adventure; magic; toy; "
     "fairy tale; princess; dragon; based on children's book", "Friends; Tale; Kingdom; Forest; Toys; Journey; Dragon; Puppy",
     "a curious little fox; a brave young princess; a lost toy; a family of penguins; a boy and his dragon",
     "sets out to find the way home; must save the kingdom from an evil sorcerer; learns the true meaning of friendship; "
     "goes on an adventure beyond the edge of the map",
     "in a magical forest; under the sea; in a kingdom of talking animals; in a toy shop after closing time",
     "The adventure begins.; Friends are forever."),
    ("Fantasy Adventure", "magic; wizard; quest; sword and sorcery; dragon; mythology; prophecy; elves; kingdom; "
     "sorcerer; enchanted forest; chosen one", "Sword; Crown; Realm; Throne; Legend; Prophecy; Sorcerer; Oath",
     "an orphan with a hidden gift; a disgraced knight; a young sorceress; an unlikely fellowship; an exiled prince",
     "embarks on a quest to destroy an ancient relic; must fulfill a prophecy to save the realm; "
     "battles a dark lord for the fate of the kingdom; searches for a legendary sword",
     "in a land of myth and magic; beyond the mountains of the north; in a kingdom on the brink of war; in an enchanted realm",
     "Legends never die.; Destiny awaits."),
    ("Action Sci-Fi", "superhero; based on comic; super power; hero; villain; alien invasion; explosion; "
     "mad scientist; vigilante; mutant; secret identity; sequel", "Hero; Legacy; Titan; Guardian; Force; Strike; Fury; Avenger",
     "an ordinary teenager; a billionaire inventor; a team of misfit heroes; a masked vigilante; a reluctant demigod",
     "discovers extraordinary powers and must learn to control them; faces a villain bent on destroying the city; "
     "must unite the heroes against an alien invasion; is hunted by the government that created him",
     "in a city under siege; across the globe; in a world that fears heroes; on the brink of an invasion",
     "A hero will rise.; Unite or fall."),
    ("Musical Drama", "music; musician; band; singer; concert; musical; dance; jazz; rock and roll; talent show; "
     "orchestra; songwriter", "Song; Melody; Rhythm; Encore; Harmony; Stage; Blues; Rhapsody",
     "a struggling singer; a jazz pianist; a garage band; a young dancer; a fading rock star",
     "chases a dream of making it big; gets one last shot at the big stage; must find her voice again; "
     "forms a band that takes the world by storm",
     "in the clubs of Harlem; on Broadway; in 1960s Liverpool; on a cross-country tour",
     "Feel the music.; Every song tells a story."),
    ("Drama Comedy", "sports; underdog; boxing; baseball; football; coach; championship; team; training; competition; "
     "comeback; olympics", "Champion; Game; Knockout; Season; Goal; Victory; Underdog; Ring",
     "a washed-up boxer; an unlikely coach; a team of underdogs; a young athlete; a former champion",
     "gets one last shot at the title; turns a losing team into contenders; trains for the fight of her life; "
     "makes an unlikely comeback",
     "in a working-class town; at the national championships; in a run-down gym; in the minor leagues",
     "Never give up.; Heart of a champion."),
    ("Comedy Drama", "coming of age; high school; teenager; friendship; first love; summer; road trip; prom; "
     "growing up; best friends; graduation; school", "Summer; Class; Youth; Road; Prom; Boys; Girls; Senior Year",
     "a shy teenager; a group of best friends; a new kid in town; an awkward honor student; a pair of brothers",
     "navigates the last summer before college; goes on a road trip that changes everything; "
     "tries to survive senior year; falls in love for the first time",
     "in the suburbs; during the summer of 1985; in a small coastal town; at an elite boarding school",
     "Some summers last forever.; Growing up is hard to do."),
    ("Drama", "family relationships; father son relationship; mother daughter relationship; loss; grief; "
     "divorce; illness; siblings; small town; secret; reunion; inheritance", "Home; House; Sisters; Father; Mother; Winter; Harvest; Return",
     "an estranged daughter; a widowed farmer; a trio of grown siblings; a single mother; an aging patriarch",
     "returns home for her father's funeral; must hold the family together after a tragedy; "
     "uncovers a secret that could tear the family apart; reconciles with a brother after years of silence",
     "in rural Iowa; in a crumbling family home; over one long weekend; in a small town in the South",
     "Home is where the heart breaks.; Family is forever."),
    ("War Drama", "biography; based on true story; historical; politics; biopic; period drama; royalty; revolution; "
     "historical figure; 19th century; empire; trial", "King; Queen; Empire; Revolution; Crown; Republic; Chronicle; Testament",
     "a young queen; a crusading lawyer; a brilliant mathematician; a revolutionary leader; an exiled king",
     "fights to change history; stands trial for a crime that shook the nation; leads a country through its darkest hour; "
     "challenges the most powerful empire on earth",
     "in 18th-century France; during the Cold War; in Victorian England; at the height of the Roman Empire",
     "Based on a true story.; History was made."),
    ("Documentary", "documentary; nature; wildlife; society; interview; archive footage; environment; "
     "climate change; politics; music documentary; sports documentary; investigative journalism",
     "Planet; Earth; Truth; Inside; Portrait; Story; Oceans; Voices",
     "this documentary; a filmmaker; a team of scientists; an investigative journalist; a wildlife photographer",
     "explores the hidden world of the deep ocean; follows the rise and fall of an icon; "
     "investigates a scandal that shook an industry; captures a year in the life of a remote community",
     "through rare archive footage; across seven continents; over a decade of filming; with unprecedented access",
     "The untold story.; See the world differently."),
    ("Action Adventure", "disaster; survival; earthquake; tsunami; volcano; storm; plane crash; shipwreck; "
     "rescue; expedition; jungle; treasure", "Storm; Summit; Island; Expedition; Impact; Ocean; Jungle; Treasure",
     "a rescue pilot; a team of scientists; a treasure hunter; a family on vacation; a seasoned mountaineer",
     "must survive a catastrophic earthquake; races against time to escape a sinking ship; "
     "searches for a lost city in the jungle; leads an expedition to the top of the world",
     "in the Himalayas; on a remote island; in the heart of the Amazon; in the path of a superstorm",
     "Nature strikes back.; Adventure has a new name."),
    ("Film-Noir Crime", "film noir; femme fatale; private detective; blackmail; black and white; insurance fraud; "
     "nightclub; double indemnity; amnesia; corrupt politician; alcoholic; fall guy", "Midnight; Dame; Sleep; Maltese; Lady; Shadow; Neon; Sunset",
     "a down-on-his-luck private eye; a femme fatale; a drifter; a nightclub singer; an insurance investigator",
     "is drawn into a web of blackmail and murder; takes a job that is too good to be true; "
     "wakes up with no memory and a body in the next room; falls for a woman who is lying to him",
     "in post-war Los Angeles; in the shadows of the city; in a smoky nightclub; in 1940s San Francisco",
     "She was trouble.; Nobody is innocent."),
    ("Comedy", "comedy; satire; parody; buddy comedy; slapstick; friendship; mistaken identity; bachelor party; "
     "road trip; office; neighbor; family vacation", "Trouble; Party; Weekend; Vacation; Mess; Boss; Neighbors; Chaos",
     "a hapless roommate; an uptight accountant; a dysfunctional family; a washed-up comedian; a pair of slackers",
     "must survive the worst vacation ever; accidentally becomes mayor; tries to pull off the perfect party; "
     "swaps lives with his boss for a day",
     "in suburbia; on a disastrous road trip; over one chaotic weekend; in Las Vegas",
     "What could go wrong?; Chaos has a plan."),
    ("Thriller Drama", "psychological thriller; obsession; paranoia; manipulation; amnesia; twist ending; "
     "mental illness; kidnapping; revenge; secret; dark past; unreliable narrator", "Mirror; Silence; Obsession; Stranger; Girl; Room; Memory; Vertigo",
     "a troubled therapist; a woman with no memory; an obsessive fan; a grieving husband; a quiet neighbor",
     "becomes convinced her husband is not who he says he is; is drawn into a dangerous game of manipulation; "
     "cannot remember the night his wife disappeared; discovers the stranger next door knows too much",
     "in a quiet suburb; in a remote lake house; in the heart of London; over one sleepless week",
     "Nothing is what it seems.; Some secrets are never forgotten."),
)
GENERIC_KEYWORDS = (
    "based on novel or book; woman director; aftercreditsstinger; duringcreditsstinger; independent film; remake; "
    "based on true story; friendship; revenge; new york city; 1980s; sequel; los angeles; london; paris; 1970s"
)
TWISTS = (
    "But nothing is what it seems.; Time is running out.; Soon, everything they believe is put to the test.; "
    "What begins as an adventure turns into a fight for survival.; The past, however, refuses to stay buried.; "
    "Every choice has a price.; Only one of them knows the truth.; Along the way, old friendships are tested.; "
    "But someone is watching.; The consequences will change them forever."
)
GENERIC_TAGLINES = (
    "Some stories are never forgotten.; Based on the incredible true story.; The wait is over.; "
    "This time, it's personal.; One chance. One choice.; Nothing will ever be the same.; Believe the impossible."
)
ADJECTIVES = (
    "Dark; Silent; Last; Broken; Golden; Hidden; Lost; Final; Wild; Crimson; Secret; Burning; Frozen; Little; Perfect; "
    "Midnight; Savage; Sweet; Forgotten; Distant; Hollow; Bright; Restless; Fallen; Quiet; Velvet; Blue; Red; Long; Black"
)
VOWEL_ADJECTIVES = "Eternal; Endless; Electric; Iron; Empty; Open; Old; Ordinary; Unexpected; Untold"
NAMES = (
    "Anna; Max; Leo; Clara; Hugo; Nina; Oscar; Rosa; Felix; Iris; Jules; Mira; Theo; Vera; Amélie; José; Sofia; Kenji; "
    "Ingrid; Omar; Lucía; Marcus; Elena; Björn"
)
PLACES = (
    "Paris; Texas; Berlin; Tokyo; Brooklyn; Casablanca; Harlem; Venice; Alaska; Havana; Montana; Dublin; Marseille; "
    "Seoul; Mumbai; Rio; Kyoto; Nevada; Oslo; Lisbon"
)
COMPANY_WORDS = (
    "Silver; Northern; Lantern; Red Fox; Harbor; Blue Sky; Granite; Meridian; Paper Moon; Orchard; Summit; Atlas; "
    "Wildflower; Iron Gate; Lighthouse; Crescent; Pinewood; Firefly; Starling; Riverbank; Copper; Nightingale"
)
COMPANY_SUFFIXES = "Pictures; Films; Studios; Entertainment; Productions; Media; Film Company"
# (language code, language name, country, share of the unrated catalogue)
LANGUAGES = (
    ("en", "English", "United States of America", 0.45), ("fr", "French", "France", 0.07),
    ("es", "Spanish", "Spain", 0.06), ("de", "German", "Germany", 0.05), ("ja", "Japanese", "Japan", 0.06),
    ("it", "Italian", "Italy", 0.04), ("ru", "Russian", "Russia", 0.03), ("pt", "Portuguese", "Brazil", 0.04),
    ("zh", "Mandarin", "China", 0.03), ("ko", "Korean", "South Korea", 0.03), ("hi", "Hindi", "India", 0.04),
    ("sv", "Swedish", "Sweden", 0.02), ("nl", "Dutch", "Netherlands", 0.02), ("tr", "Turkish", "Turkey", 0.02),
    ("pl", "Polish", "Poland", 0.02), ("da", "Danish", "Denmark", 0.02),
)
SECOND_COUNTRIES = "United Kingdom; Canada; France; Germany; Australia; Belgium; Ireland"
STATUSES = (("Released", 0.93), ("Post Production", 0.02), ("In Production", 0.02), ("Planned", 0.015),
            ("Rumored", 0.01), ("Canceled", 0.005))
BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(";") if item.strip()]


class SynthError(ValueError):
    """Arguments that cannot describe a MovieLens-like data set."""


@dataclass(frozen=True)
class SynthConfig:
    ratings: int
    users: int
    movies: int
    tmdb_movies: int
    out: Path
    seed: int = 42
    gzip: bool = False

    def path(self, kind: str) -> Path:
        return Path(self.out) / (FILE_NAMES[kind] + (".gz" if self.gzip else ""))


@dataclass
class SynthSummary:
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    ratings_seconds: float = 0.0
    rated_movies: int = 0

    @property
    def ratings_per_second(self) -> float:
        return self.rows.get("ratings", 0) / self.seconds if self.seconds else 0.0


def validate(config: SynthConfig) -> None:
    """Raise SynthError with a readable message for arguments no MovieLens-like data set can have."""
    for name, limit in LIMITS.items():
        value = getattr(config, name)
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise SynthError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if value > limit:
            raise SynthError(f"--{name.replace('_', '-')} must be at most {limit:,}, got {value:,}")
    if config.movies < MIN_USER_RATINGS:
        raise SynthError(f"--movies must be at least {MIN_USER_RATINGS} (every user rates {MIN_USER_RATINGS} distinct movies)")
    if config.ratings < MIN_USER_RATINGS * config.users:
        raise SynthError(
            f"--ratings {config.ratings:,} is too few for {config.users:,} users: every user has at least "
            f"{MIN_USER_RATINGS} ratings, so at least {MIN_USER_RATINGS * config.users:,} are needed"
        )
    cap = _max_per_user(config.movies)
    if config.ratings > cap * config.users:
        raise SynthError(
            f"--ratings {config.ratings:,} is too many for {config.users:,} users and {config.movies:,} movies: "
            f"a user rates at most {cap:,} movies ({MAX_USER_SHARE:.0%}), so at most {cap * config.users:,} ratings"
        )
    if config.tmdb_movies < config.movies:
        raise SynthError(
            f"--tmdb-movies {config.tmdb_movies:,} must be at least --movies {config.movies:,}: "
            "the TMDB file holds every linked MovieLens movie"
        )
    if not 0 <= config.seed < 2**63:
        raise SynthError(f"--seed must be between 0 and 2**63-1, got {config.seed}")
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise SynthError(f"--out {out} exists and is not a directory")


def _max_per_user(movies: int) -> int:
    return max(MIN_USER_RATINGS, int(movies * MAX_USER_SHARE))


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


# Random streams: one per purpose (and per block), so changing one part never shifts another.
_WORLD, _RATINGS, _TMDB, _TMDB_ROWS = range(4)


# --- choosing movies: successive weighted sampling without replacement ------------------------------------------


class _MovieChooser:
    """Draws movie indices i.i.d. from the popularity law (alias method) and picks each user's distinct movies.

    A user's movies are the first ``n`` distinct ones of an i.i.d. stream of draws, which is exactly successive
    weighted sampling without replacement; users for whom that stream would be very long (they rate a large share
    of the catalogue) get the equivalent Gumbel top-``n`` over all movies instead.
    """

    SLACK = 0.02  # draw for 2% more distinct movies than needed, so few users need a second round
    HEAVY_FACTOR = 4.0  # users whose expected stream is longer than this × n use Gumbel top-n

    def __init__(self, weights: np.ndarray):
        self.weights = weights
        self.movies = len(weights)
        self.log_weights = np.log(weights)
        self.prob, self.alias = _alias_table(weights)
        # expected number of distinct movies in k draws, on a log grid of k
        self.grid_k = np.unique(np.round(np.geomspace(1, 64.0 * self.movies, 160)))
        log1m = np.log1p(-np.minimum(weights, 1 - 1e-12))
        self.grid_distinct = np.array([-np.expm1(k * log1m).sum() for k in self.grid_k])
        self.movie_bits = max(1, (self.movies - 1).bit_length())

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        x = rng.random(size)
        x *= self.movies
        index = x.astype(np.int64)
        np.minimum(index, self.movies - 1, out=index)
        x -= index
        return np.where(x < self.prob[index], index, self.alias[index])

    def choose(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(user position, movie index) pairs, sorted, ``counts[i]`` distinct movies for user position i."""
        target = counts * (1 + self.SLACK) + 1
        draws = np.ceil(np.interp(target, self.grid_distinct, self.grid_k)).astype(np.int64)
        heavy = (target >= self.grid_distinct[-1] * 0.999) | (draws > self.HEAVY_FACTOR * counts)
        users, movies = [], []
        normal = np.flatnonzero(~heavy)
        if len(normal):
            u, m = self._successive(counts[normal], draws[normal], rng)
            users.append(normal[u]), movies.append(m)
        for position in np.flatnonzero(heavy):
            keys = self.log_weights + rng.gumbel(size=self.movies)
            n = int(counts[position])
            top = np.argpartition(-keys, n - 1)[:n] if n < self.movies else np.arange(self.movies)
            users.append(np.full(n, position, dtype=np.int64)), movies.append(top.astype(np.int64))
        user = np.concatenate(users)
        movie = np.concatenate(movies)
        key = (user << self.movie_bits) | movie
        key.sort()
        return key >> self.movie_bits, key & ((1 << self.movie_bits) - 1)

    def _successive(self, counts: np.ndarray, lengths: np.ndarray, rng: np.random.Generator):
        lengths = lengths.copy()
        stream = self.draw(rng, int(lengths.sum()))
        active = np.arange(len(counts))
        users, movies = [], []
        while True:
            user, movie, short = self._first_distinct(counts[active], stream, lengths)
            users.append(active[user]), movies.append(movie)
            if not short.any():
                break
            # continue the streams of the users that did not reach their count
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            idx = np.flatnonzero(short)
            old = lengths[idx]
            extra = np.maximum(old // 4, 16)
            new_starts = np.concatenate([[0], np.cumsum(old + extra)[:-1]])
            grown = np.empty(int((old + extra).sum()), dtype=np.int64)
            grown[_ranges(new_starts, old)] = stream[_ranges(starts[idx], old)]
            grown[_ranges(new_starts + old, extra)] = self.draw(rng, int(extra.sum()))
            stream, lengths, active = grown, old + extra, active[idx]
        return np.concatenate(users), np.concatenate(movies)

    def _first_distinct(self, counts: np.ndarray, stream: np.ndarray, lengths: np.ndarray):
        """The first counts[i] distinct movies of each user's stream; users whose stream has fewer are 'short'."""
        users, total = len(counts), len(stream)
        user_bits = max(1, (users - 1).bit_length())
        draw_bits = max(1, (total - 1).bit_length())
        if user_bits + self.movie_bits + draw_bits > 63:  # split very large problems
            half = users // 2
            cut = int(lengths[:half].sum())
            u1, m1, s1 = self._first_distinct(counts[:half], stream[:cut], lengths[:half])
            u2, m2, s2 = self._first_distinct(counts[half:], stream[cut:], lengths[half:])
            return np.concatenate([u1, u2 + half]), np.concatenate([m1, m2]), np.concatenate([s1, s2])
        user_of_draw = np.repeat(np.arange(users, dtype=np.int64), lengths)
        key = (user_of_draw << (self.movie_bits + draw_bits)) | (stream << draw_bits) | np.arange(total, dtype=np.int64)
        key.sort()
        pair = key >> draw_bits
        first = np.empty(total, dtype=bool)
        first[0] = True
        np.not_equal(pair[1:], pair[:-1], out=first[1:])
        key = key[first]  # one per (user, movie), carrying its first draw
        draw = key & ((1 << draw_bits) - 1)
        is_first = np.zeros(total, dtype=bool)
        is_first[draw] = True
        seen = np.concatenate([[0], np.cumsum(is_first)])  # distinct movies among the first i draws
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        before = seen[bounds[:-1]]
        short = seen[bounds[1:]] - before < counts
        # the draw that brings user i to counts[i] distinct movies
        last = np.searchsorted(seen, before + counts) - 1
        user = key >> (self.movie_bits + draw_bits)
        keep = ~short[user] & (draw <= last[user])
        movie = (key >> draw_bits) & ((1 << self.movie_bits) - 1)
        return user[keep], movie[keep], short


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated aranges [starts[i], starts[i] + lengths[i])."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.arange(total, dtype=np.int64) + np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths)


def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for sampling index i with probability p[i]."""
    n = len(p)
    scaled = (p * n).tolist()
    alias = list(range(n))
    small = [i for i, q in enumerate(scaled) if q < 1.0]
    large = [i for i, q in enumerate(scaled) if q >= 1.0]
    while small and large:
        s, g = small.pop(), large[-1]
        alias[s] = g
        scaled[g] -= 1.0 - scaled[s]
        if scaled[g] < 1.0:
            small.append(large.pop())
    for i in small + large:
        scaled[i] = 1.0
    return np.array(scaled), np.array(alias, dtype=np.int64)


def _apportion(weights: np.ndarray, total: int, cap: int) -> np.ndarray:
    """Non-negative integers ≤ cap, proportional to weights, summing exactly to total (largest remainder)."""
    share = np.zeros(len(weights))
    free = np.ones(len(weights), dtype=bool)
    remaining = float(total)
    while True:
        w = weights[free]
        part = w / w.sum() * remaining
        over = part > cap
        if not over.any():
            share[free] = part
            break
        idx = np.flatnonzero(free)[over]
        share[idx] = cap
        free[idx] = False
        remaining -= cap * len(idx)
    base = np.minimum(np.floor(share).astype(np.int64), cap)
    missing = total - int(base.sum())
    if missing:
        frac = np.where(base < cap, share - base, -1.0)
        order = np.argsort(-frac, kind="stable")[:missing]
        base[order] += 1
    return base


# --- the latent world ------------------------------------------------------------------------------------------


class _Vocab:
    """Word lists as Arrow arrays, per-theme lists flattened with offsets."""

    def __init__(self) -> None:
        def flat(field_index: int) -> tuple[pa.Array, np.ndarray, np.ndarray]:
            lists = [_items(theme[field_index]) for theme in THEMES]
            lengths = np.array([len(items) for items in lists], dtype=np.int64)
            offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            return pa.array([item for items in lists for item in items], pa.string()), offsets, lengths

        self.keywords, self.keyword_offsets, self.keyword_lengths = flat(1)
        assert self.keyword_lengths.min() >= KEYWORD_SLOTS
        self.nouns, self.noun_offsets, self.noun_lengths = flat(2)
        self.roles, self.role_offsets, self.role_lengths = flat(3)
        self.goals, self.goal_offsets, self.goal_lengths = flat(4)
        self.settings, self.setting_offsets, self.setting_lengths = flat(5)
        self.taglines, self.tagline_offsets, self.tagline_lengths = flat(6)
        self.roles_capitalised = pa.array([r[0].upper() + r[1:] for r in self.roles.to_pylist()], pa.string())
        self.generic_keywords = pa.array(_items(GENERIC_KEYWORDS), pa.string())
        assert len(self.generic_keywords) >= KEYWORD_SLOTS
        self.all_keywords = pa.concat_arrays([self.keywords, self.generic_keywords])
        self.twists = pa.array(_items(TWISTS), pa.string())
        self.generic_taglines = pa.array(_items(GENERIC_TAGLINES), pa.string())
        self.adjectives = pa.array(_items(ADJECTIVES), pa.string())
        self.vowel_adjectives = pa.array(_items(VOWEL_ADJECTIVES), pa.string())
        self.names = pa.array(_items(NAMES), pa.string())
        self.places = pa.array(_items(PLACES), pa.string())
        self.companies = pa.array([f"{w} {s}" for w in _items(COMPANY_WORDS) for s in _items(COMPANY_SUFFIXES)], pa.string())
        self.second_countries = pa.array(_items(SECOND_COUNTRIES), pa.string())
        self.language_codes = pa.array([code for code, _, _, _ in LANGUAGES], pa.string())
        self.language_names = pa.array([name for _, name, _, _ in LANGUAGES], pa.string())
        self.language_countries = pa.array([country for _, _, country, _ in LANGUAGES], pa.string())
        shares = np.array([share for _, _, _, share in LANGUAGES])
        self.language_shares = shares / shares.sum()
        self.tmdb_genres = pa.array(TMDB_GENRE_NAMES, pa.string())
        self.ml_genres = pa.array([ml for ml, _, _ in GENRES if ml], pa.string())
        self.statuses = pa.array([s for s, _ in STATUSES], pa.string())
        self.status_shares = np.array([p for _, p in STATUSES]) / sum(p for _, p in STATUSES)


@dataclass
class _World:
    counts: np.ndarray  # ratings per user
    user_vec: np.ndarray  # (users, LATENT_DIM) float32
    user_bias: np.ndarray
    user_start: np.ndarray  # unix seconds
    user_span: np.ndarray
    movie_ids: np.ndarray  # ascending, with gaps like MovieLens
    movie_vec: np.ndarray  # (movies, LATENT_DIM) float32
    movie_bias: np.ndarray
    weights: np.ndarray  # choice probabilities, sum 1
    release_day: np.ndarray  # days since 1970-01-01
    genre_member: np.ndarray  # (movies, len(GENRES)) bool
    genre_affinity: np.ndarray  # (movies, len(GENRES)) float32
    no_genres: np.ndarray  # MovieLens lists "(no genres listed)"
    themes: np.ndarray  # (movies, 2) primary and secondary theme
    imdb: np.ndarray  # imdb numbers of the MovieLens movies
    tmdb: np.ndarray  # tmdb ids of the MovieLens movies, -1 where links has none
    genre_dirs: np.ndarray
    genre_thresholds: np.ndarray
    theme_dirs: np.ndarray
    vec_scale: float
    catalogue_tmdb: np.ndarray  # tmdb ids of the unrated TMDB rows
    catalogue_imdb: np.ndarray  # their imdb numbers (-1: none)
    duplicate_of: np.ndarray  # MovieLens movie index each duplicate TMDB row repeats
    adult: np.ndarray  # per catalogue row


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _noise(rng: np.random.Generator, shape: tuple[int, ...], sd: float) -> np.ndarray:
    """Uniform noise with standard deviation sd (much cheaper than standard_normal; the shape does not matter)."""
    noise = rng.random(shape, dtype=np.float32)
    noise -= 0.5
    noise *= np.float32(sd * 12**0.5)
    return noise


def _genre_scores(vec: np.ndarray, world: _World, rng: np.random.Generator) -> np.ndarray:
    score = vec @ (world.genre_dirs.T / np.float32(world.vec_scale))
    score += _noise(rng, score.shape, GENRE_NOISE_SD)
    return score


def _genre_members(affinity: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Genres whose affinity passes its threshold; at least one MovieLens genre (the closest one) per movie."""
    member = affinity > thresholds
    ml = np.array(ML_GENRE_COLUMNS)
    none = np.flatnonzero(~member[:, ml].any(axis=1))
    if len(none):
        member[none, ml[np.argmax(affinity[np.ix_(none, ml)] - thresholds[ml], axis=1)]] = True
    return member


def _pick_themes(vec: np.ndarray, world: _World, rng: np.random.Generator) -> np.ndarray:
    """The two themes closest to the movie's latent vector, after some noise: (primary, secondary)."""
    score = vec @ (world.theme_dirs.T / np.float32(world.vec_scale))
    score += _noise(rng, score.shape, THEME_NOISE)
    rows = np.arange(len(vec))
    first = np.argmax(score, axis=1)
    score[rows, first] = -np.inf
    return np.stack([first, np.argmax(score, axis=1)], axis=1)


def _build_world(config: SynthConfig) -> _World:
    rng = _rng(config.seed, _WORLD)
    d, users, movies, tmdb_rows = LATENT_DIM, config.users, config.movies, config.tmdb_movies
    scale = float((INTERACTION_SD**2 / d) ** 0.25)

    # users: activity, taste, bias, time window
    extra = _apportion(rng.lognormal(0.0, USER_ACTIVITY_SIGMA, users), config.ratings - MIN_USER_RATINGS * users,
                       _max_per_user(movies) - MIN_USER_RATINGS)
    counts = MIN_USER_RATINGS + extra
    user_vec = (rng.standard_normal((users, d), dtype=np.float32) * scale).astype(np.float32)
    user_bias = (rng.standard_normal(users, dtype=np.float32) * USER_BIAS_SD).astype(np.float32)
    kind = rng.choice(3, size=users, p=[0.45, 0.30, 0.25])  # one session, weeks to months, years
    span = np.where(kind == 0, rng.exponential(3 * 3600, users),
                    np.where(kind == 1, rng.exponential(60 * DAY, users), rng.exponential(3 * 365 * DAY, users)))
    span = np.minimum(span, END_TS - START_TS - DAY).astype(np.int64)
    early = rng.random(users) < 0.2  # a bump of early users (1996-2000), as in MovieLens
    start = np.where(early, START_TS + rng.random(users) * 5 * 365 * DAY, START_TS + rng.random(users) * (END_TS - START_TS))
    start = np.minimum(start.astype(np.int64), END_TS - span)

    # movies: ids with gaps, popularity, taste, bias, release dates
    gaps = 1 + (rng.random(movies) < 0.35) * rng.geometric(1 / 6, movies)
    gaps[0] = 1
    movie_ids = np.cumsum(gaps).astype(np.int64)
    rank = rng.permutation(movies) + 1
    weights = (rank + ZIPF_OFFSET_SCALE * np.sqrt(movies)) ** -ZIPF_EXPONENT
    weights /= weights.sum()
    log_w = np.log(weights)
    movie_vec = (rng.standard_normal((movies, d), dtype=np.float32) * scale).astype(np.float32)
    movie_bias = (rng.standard_normal(movies) * MOVIE_BIAS_SD + POPULARITY_QUALITY * (log_w - log_w.mean()) / log_w.std()).astype(np.float32)
    year = np.clip(LAST_YEAR - np.round(rng.gamma(1.5, 14.0, movies)), FIRST_YEAR, LAST_YEAR).astype(np.int64)
    release_day = _year_start_day(year) + rng.integers(0, 365, movies)

    # content: genre directions and themes in the latent space
    genre_dirs = _unit_rows(rng.standard_normal((len(GENRES), d))).astype(np.float32)
    theme_dirs = []
    for theme in THEMES:
        direction = sum(genre_dirs[_GENRE_INDEX[g]] for g in theme[0].split())
        direction = direction / np.linalg.norm(direction) + 0.5 * _unit_rows(rng.standard_normal((1, d)))[0]
        theme_dirs.append(direction / np.linalg.norm(direction))
    theme_dirs = np.array(theme_dirs, dtype=np.float32)
    world = _World(
        counts=counts, user_vec=user_vec, user_bias=user_bias, user_start=start, user_span=span,
        movie_ids=movie_ids, movie_vec=movie_vec, movie_bias=movie_bias, weights=weights, release_day=release_day,
        genre_member=np.zeros(0), genre_affinity=np.zeros(0), no_genres=rng.random(movies) < NO_GENRES_SHARE,
        themes=np.zeros(0), imdb=np.zeros(0), tmdb=np.zeros(0), genre_dirs=genre_dirs,
        genre_thresholds=np.zeros(0), theme_dirs=theme_dirs, vec_scale=scale, catalogue_tmdb=np.zeros(0),
        catalogue_imdb=np.zeros(0), duplicate_of=np.zeros(0), adult=np.zeros(0),
    )
    affinity = _genre_scores(movie_vec, world, rng)
    world.genre_thresholds = np.array(
        [np.quantile(affinity[:, k], 1 - share) for k, share in enumerate(GENRE_SHARES)], dtype=np.float32
    )
    world.genre_affinity = affinity.astype(np.float32)
    world.genre_member = _genre_members(affinity, world.genre_thresholds)
    world.themes = _pick_themes(movie_vec, world, rng)

    # identifiers: imdb numbers for every row, tmdb ids for every TMDB row, a few links without tmdbId
    n_empty = int(round(movies * EMPTY_TMDB_SHARE))
    obscure = np.argsort(weights, kind="stable")[: max(n_empty, movies // 2)]
    empty = rng.choice(obscure, size=n_empty, replace=False) if n_empty else np.zeros(0, np.int64)
    linked = movies - n_empty
    n_dup = min(max(1, tmdb_rows // DUPLICATE_EVERY), tmdb_rows - linked) if tmdb_rows > linked else 0
    n_catalogue = tmdb_rows - linked - n_dup
    imdb_range = 9_999_999 if tmdb_rows <= 3_000_000 else 5 * tmdb_rows
    imdb = rng.choice(imdb_range, size=movies + n_catalogue, replace=False) + 1
    tmdb_ids = rng.choice(max(2 * tmdb_rows, 10_000), size=linked + n_catalogue, replace=False) + 2
    world.imdb = imdb[:movies]
    world.tmdb = np.full(movies, -1, dtype=np.int64)
    has_tmdb = np.ones(movies, dtype=bool)
    has_tmdb[empty] = False
    world.tmdb[has_tmdb] = tmdb_ids[:linked]
    world.catalogue_tmdb = tmdb_ids[linked:]
    world.catalogue_imdb = np.where(rng.random(n_catalogue) < 0.6, imdb[movies:], -1)
    world.adult = rng.random(n_catalogue) < ADULT_SHARE
    world.duplicate_of = rng.choice(np.flatnonzero(has_tmdb), size=n_dup, replace=n_dup > linked) if n_dup else np.zeros(0, np.int64)
    return world


def _year_start_day(year: np.ndarray) -> np.ndarray:
    return (np.asarray(year, dtype=np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def _scores(world: _World, user: np.ndarray, movie: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    score = rng.standard_normal(len(user), dtype=np.float32)
    score *= NOISE_SD
    score += world.user_bias[user]
    score += world.movie_bias[movie]
    piece = 1 << 15  # gather the latent vectors in cache-sized pieces
    for first in range(0, len(user), piece):
        part = slice(first, first + piece)
        score[part] += np.einsum("ij,ij->i", world.user_vec[user[part]], world.movie_vec[movie[part]])
    return score


# --- writing -----------------------------------------------------------------------------------------------------


class _Output:
    """One output file, written (and gzip-compressed) by the writer thread, renamed into place when complete."""

    MAX_PENDING = 2  # blocks queued for the writer: bounds memory while generation runs ahead

    def __init__(self, path: Path, compress: bool, pool: ThreadPoolExecutor):
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self._raw = open(self.part, "wb")
        self._file = (
            gzip_module.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=GZIP_LEVEL, mtime=0)
            if compress else self._raw
        )
        self._pool = pool
        self._pending: list[Future] = []
        self.rows = 0
        self.closed = False

    def write(self, rows: int, data: bytes | pa.Buffer | pa.Table, options: pacsv.WriteOptions | None = None) -> None:
        while len(self._pending) >= self.MAX_PENDING:
            self._pending.pop(0).result()
        self.rows += rows
        self._pending.append(self._pool.submit(self._write, data, options))

    def _write(self, data, options) -> None:
        if isinstance(data, pa.Table):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(data, sink, options)
            data = sink.getvalue()
        self._file.write(data)

    def close(self) -> None:
        for future in self._pending:
            future.result()
        self._pending.clear()
        if self._file is not self._raw:
            self._file.close()
        self._raw.close()
        os.replace(self.part, self.path)
        self.closed = True

    def abort(self) -> None:
        if self.closed:
            return
        for future in self._pending:
            future.cancel()
        for future in self._pending:
            try:
                future.result()
            except BaseException:
                pass
        self._raw.close()
        self.part.unlink(missing_ok=True)


def _lines(*columns, eol: str = ML_EOL) -> pa.Buffer:
    """Comma-joined columns, one line per row, as one buffer (the caller quotes fields that need it)."""
    line = pc.binary_join_element_wise(*columns, ",")
    line = pc.binary_join_element_wise(line, eol, "")
    if isinstance(line, pa.ChunkedArray):
        line = line.combine_chunks()
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32)[line.offset : line.offset + len(line) + 1]
    return line.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


Progress = Callable[[str, int, int, float], None]  # (file kind, rows done, rows total, seconds so far)


def _write_ratings(config: SynthConfig, world: _World, chooser: _MovieChooser, output: _Output,
                   progress: Progress | None, started: float) -> tuple[np.ndarray, np.ndarray]:
    """ratings.csv, block by block of users; returns the number and the sum of ratings of every movie.

    The score → half-star cut points are the RATING_PROBS quantiles of the scores of the first blocks (at least
    CALIBRATION_RATINGS ratings, all of them for smaller data sets): users are i.i.d., so the first users are a
    random sample of all of them. Those blocks wait in memory until the cut points are known.
    """
    movies = len(world.movie_ids)
    rated = np.zeros(movies, dtype=np.int64)
    total = np.zeros(movies, dtype=np.float64)
    values = pa.array(RATING_VALUES, pa.string())
    stars = np.arange(1, 11, dtype=np.float64) / 2
    options = pacsv.WriteOptions(include_header=False, quoting_style="none", eol=ML_EOL, batch_size=1 << 16)
    output.write(0, (RATINGS_HEADER + ML_EOL).encode())
    cumulative = np.cumsum(world.counts)
    cuts = np.unique(np.searchsorted(cumulative, np.arange(BLOCK_RATINGS, cumulative[-1], BLOCK_RATINGS), side="left") + 1)
    bounds = np.concatenate([[0], cuts[cuts < len(world.counts)], [len(world.counts)]])
    thresholds = None
    waiting: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    done = 0

    def emit(user: np.ndarray, movie: np.ndarray, score: np.ndarray, ts: np.ndarray) -> None:
        nonlocal done, rated, total
        star = np.searchsorted(thresholds, score, side="right")
        rated += np.bincount(movie, minlength=movies)
        total += np.bincount(movie, weights=stars[star], minlength=movies)
        table = pa.table({
            "userId": pa.array(user + 1),
            "movieId": pa.array(world.movie_ids[movie]),
            "rating": values.take(pa.array(star)),
            "timestamp": pa.array(ts),
        })
        output.write(len(user), table, options)
        done += len(user)
        if progress:
            progress("ratings", done, config.ratings, time.perf_counter() - started)

    for block, (first, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        rng = _rng(config.seed, _RATINGS, block)
        position, movie = chooser.choose(world.counts[first:stop], rng)
        user = position + first
        score = _scores(world, user, movie, rng)
        # timestamps: inside the user's window, never before the movie came out
        ts = world.user_start[user] + (world.user_span[user] * rng.random(len(user))).astype(np.int64)
        lower = np.minimum(world.release_day[movie] * DAY + DAY + rng.exponential(120 * DAY, len(user)).astype(np.int64), END_TS - DAY)
        late = ts < lower
        ts[late] = lower[late] + ((END_TS - lower[late]) * rng.random(int(late.sum())) ** 3).astype(np.int64)
        if thresholds is not None:
            emit(user, movie, score, ts)
            continue
        waiting.append((user.astype(np.int32), movie.astype(np.int32), score, ts))
        if cumulative[stop - 1] >= CALIBRATION_RATINGS or stop == len(world.counts):
            scores = np.concatenate([part[2] for part in waiting])
            thresholds = np.quantile(scores, np.cumsum(RATING_PROBS)[:-1]).astype(np.float32)
            for part in waiting:
                emit(*part)
            waiting.clear()
    return rated, total


# --- text: titles, overviews, keywords ----------------------------------------------------------------------------


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


class _Words:
    """Vectorised picks from the vocabularies for n rows."""

    def __init__(self, vocab: _Vocab, rng: np.random.Generator, n: int):
        self.vocab, self.rng, self.n = vocab, rng, n

    def pick(self, values: pa.Array) -> pa.Array:
        return values.take(pa.array(self.rng.integers(0, len(values), self.n)))

    def per_theme(self, values: pa.Array, offsets: np.ndarray, lengths: np.ndarray, theme: np.ndarray,
                  avoid: np.ndarray | None = None) -> tuple[pa.Array, np.ndarray]:
        size = lengths[theme]
        r = self.rng.integers(0, 1 << 30, self.n)
        j = r % size if avoid is None else (avoid + 1 + r % np.maximum(size - 1, 1)) % size
        return values.take(pa.array(offsets[theme] + j)), j


TITLE_TEMPLATES = (  # (share, template): N/N2 theme nouns, A adjective, V vowel adjective, P/P2 places, K name, D digit
    (0.14, "The {N}"), (0.15, "{A} {N}"), (0.13, "The {A} {N}"), (0.07, "{N} of {P}"), (0.05, "{K}"),
    (0.06, "{K}'s {N}"), (0.04, "{A} {N} {D}"), (0.05, "A {N} in {P}"), (0.02, "{P}, {P2}"), (0.06, "{N}: {A} {N2}"),
    (0.05, "{K} and the {A} {N}"), (0.005, '"{A} {N}"'), (0.04, "{N} & {N2}"), (0.03, "An {V} {N}"), (0.07, "{N}"),
    (0.045, "{A} {N2}"),
)


def _titles(vocab: _Vocab, theme: np.ndarray, rng: np.random.Generator) -> pa.Array:
    n = len(theme)
    words = _Words(vocab, rng, n)
    noun, j = words.per_theme(vocab.nouns, vocab.noun_offsets, vocab.noun_lengths, theme)
    noun2, _ = words.per_theme(vocab.nouns, vocab.noun_offsets, vocab.noun_lengths, theme, avoid=j)
    place = rng.integers(0, len(vocab.places), n)
    place2 = (place + 1 + rng.integers(0, len(vocab.places) - 1, n)) % len(vocab.places)
    slots = {
        "N": noun, "N2": noun2, "A": words.pick(vocab.adjectives), "V": words.pick(vocab.vowel_adjectives),
        "P": vocab.places.take(pa.array(place)), "P2": vocab.places.take(pa.array(place2)),
        "K": words.pick(vocab.names), "D": _text(rng.integers(2, 5, n)),
    }
    shares = np.array([share for share, _ in TITLE_TEMPLATES])
    choice = rng.choice(len(TITLE_TEMPLATES), size=n, p=shares / shares.sum())
    # build each template only for its rows, then put the rows back in order
    order = np.argsort(choice, kind="stable")
    ends = np.cumsum(np.bincount(choice, minlength=len(TITLE_TEMPLATES)))
    pieces = []
    for (_, template), start, end in zip(TITLE_TEMPLATES, np.concatenate([[0], ends[:-1]]), ends):
        rows = pa.array(order[start:end])
        parts = []
        for literal, name, _, _ in string.Formatter().parse(template):
            parts += [literal] if literal else []
            parts += [slots[name].take(rows)] if name else []
        pieces.append(parts[0] if len(parts) == 1 else _join(*parts))
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return pa.concat_arrays(pieces).take(pa.array(inverse))


def _movielens_titles(base: pa.Array, year: np.ndarray) -> pa.Array:
    """"The Star" + 1999 → "Star, The (1999)", quoted as MovieLens quotes (only with a comma or a quote inside)."""
    moved = pc.replace_substring_regex(base, r"^(The|A|An) (.+)$", r"\2, \1")
    title = _join(moved, " (", _text(year), ")")
    quoted = _join('"', pc.replace_substring(title, '"', '""'), '"')
    return pc.if_else(pc.match_substring_regex(title, '[,"]'), quoted, title)


def _lists(values: pa.Array, index: np.ndarray, counts: np.ndarray, separator: str) -> pa.Array:
    """Row i: separator-joined values[index[...]] of its counts[i] entries (index flattened row by row)."""
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values.take(pa.array(index))), separator)


def _members(member: np.ndarray, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Column indices of the True cells, row by row (in ``order`` within a row), and their count per row."""
    if order is not None:
        member = np.take_along_axis(member, order, axis=1)
        columns = order[member]
    else:
        columns = np.nonzero(member)[1]
    return columns, member.sum(axis=1)


_TMDB_OF_GENRE = np.array([TMDB_GENRE_NAMES.index(t) if t else -1 for _, t, _ in GENRES])


def _tmdb_genres(vocab: _Vocab, member: np.ndarray, affinity: np.ndarray) -> pa.Array:
    """TMDB genre names, strongest first; Film-Noir counts as Crime and IMAX is not a TMDB genre."""
    member = member.copy()
    noir, crime = _GENRE_INDEX["Film-Noir"], _GENRE_INDEX["Crime"]
    member[:, noir] &= ~member[:, crime]
    member[:, _GENRE_INDEX["IMAX"]] = False
    columns, counts = _members(member, np.argsort(-affinity, axis=1, kind="stable"))
    return _lists(vocab.tmdb_genres, _TMDB_OF_GENRE[columns], counts, ", ")


def _movielens_genres(vocab: _Vocab, member: np.ndarray, no_genres: np.ndarray) -> pa.Array:
    columns, counts = _members(member[:, ML_GENRE_COLUMNS])
    return pc.if_else(pa.array(no_genres), NO_GENRES, _lists(vocab.ml_genres, columns, counts, "|"))


def _keywords(vocab: _Vocab, themes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Distinct keywords, mostly from the movie's first theme, then its second theme, then generic ones."""
    total = len(themes)
    some = np.flatnonzero(counts > 0)
    themes, counts = themes[some], counts[some]
    n, slots = len(themes), KEYWORD_SLOTS
    generic = len(vocab.generic_keywords)
    candidates = np.concatenate([
        vocab.keyword_offsets[themes[:, :1]] + np.arange(slots),
        vocab.keyword_offsets[themes[:, 1:2]] + np.arange(slots),
        np.broadcast_to(len(vocab.keywords) + np.arange(generic), (n, generic)),
    ], axis=1)
    weight = np.concatenate([np.full(slots, 3.0), np.full(slots, 1.2), np.full(generic, 0.5)])
    order = np.argsort(rng.standard_exponential(size=candidates.shape, dtype=np.float32) / weight, axis=1)
    counts = np.minimum(counts, candidates.shape[1])
    chosen = np.take_along_axis(candidates, order, axis=1)[np.arange(candidates.shape[1]) < counts[:, None]]
    keywords = _lists(vocab.all_keywords, chosen, counts, ", ")
    return _scatter(keywords, some, total)


def _scatter(values: pa.Array, positions: np.ndarray, size: int) -> pa.Array:
    """``size`` strings: values at positions, empty elsewhere."""
    index = np.full(size, len(values), dtype=np.int64)
    index[positions] = np.arange(len(values))
    return pa.concat_arrays([values, pa.array([""], pa.string())]).take(pa.array(index))


def _overviews(vocab: _Vocab, themes: np.ndarray, rng: np.random.Generator) -> pa.Array:
    words = _Words(vocab, rng, len(themes))
    first, second = themes[:, 0], themes[:, 1]
    role, _ = words.per_theme(vocab.roles_capitalised, vocab.role_offsets, vocab.role_lengths, first)
    goal, _ = words.per_theme(vocab.goals, vocab.goal_offsets, vocab.goal_lengths, first)
    setting, _ = words.per_theme(vocab.settings, vocab.setting_offsets, vocab.setting_lengths, first)
    role2, _ = words.per_theme(vocab.roles, vocab.role_offsets, vocab.role_lengths, second)
    goal2, _ = words.per_theme(vocab.goals, vocab.goal_offsets, vocab.goal_lengths, second)
    link = words.pick(pa.array(["Meanwhile, ", "Along the way, ", "At the same time, "]))
    twist = words.pick(vocab.twists)
    subplot = pc.if_else(pa.array(rng.random(len(themes)) < 0.45), _join(" ", link, role2, " ", goal2, "."), "")
    twist = pc.if_else(pa.array(rng.random(len(themes)) < 0.45), _join(" ", twist), "")
    return _join(role, " ", goal, " ", setting, ".", subplot, twist)


def _taglines(vocab: _Vocab, themes: np.ndarray, present: np.ndarray, rng: np.random.Generator) -> pa.Array:
    words = _Words(vocab, rng, len(themes))
    own, _ = words.per_theme(vocab.taglines, vocab.tagline_offsets, vocab.tagline_lengths, themes[:, 0])
    tagline = pc.if_else(pa.array(rng.random(len(themes)) < 0.7), own, words.pick(vocab.generic_taglines))
    return pc.if_else(pa.array(present), tagline, "")


def _image_paths(rng: np.random.Generator, present: np.ndarray) -> pa.Array:
    n = len(present)
    chars = BASE62[np.frombuffer(rng.bytes(n * 27), dtype=np.uint8) % len(BASE62)]
    names = pa.FixedSizeBinaryArray.from_buffers(pa.binary(27), n, [None, pa.py_buffer(chars)])
    paths = _join("/", pc.cast(pc.cast(names, pa.binary()), pa.string()), ".jpg")
    return pc.if_else(pa.array(present), paths, "")


def _decimal(values: np.ndarray, digits: int) -> pa.Array:
    """Python-like float text: 7.5, 8.364, 0.0."""
    text = _text(np.round(values, digits))
    return pc.if_else(pc.match_substring(text, "."), text, _join(text, ".0"))


# --- movies.csv, links.csv, TMDB --------------------------------------------------------------------------------


def _write_movies_and_links(world: _World, vocab: _Vocab, base_titles: pa.Array, movies_out: _Output,
                            links_out: _Output) -> None:
    year = _year_of_day(world.release_day)
    movies_out.write(0, (MOVIES_HEADER + ML_EOL).encode())
    links_out.write(0, (LINKS_HEADER + ML_EOL).encode())
    for first in range(0, len(world.movie_ids), TMDB_CHUNK):
        part = slice(first, first + TMDB_CHUNK)
        ids = _text(world.movie_ids[part])
        titles = _movielens_titles(base_titles[part], year[part])
        genres = _movielens_genres(vocab, world.genre_member[part], world.no_genres[part])
        movies_out.write(len(ids), _lines(ids, titles, genres))
        imdb = pc.utf8_lpad(_text(world.imdb[part]), 7, "0")
        tmdb = world.tmdb[part]
        tmdb_text = pc.if_else(pa.array(tmdb >= 0), _text(tmdb), "")
        links_out.write(len(ids), _lines(ids, imdb, tmdb_text))


def _year_of_day(day: np.ndarray) -> np.ndarray:
    return np.asarray(day, dtype="datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


@dataclass
class _TmdbRows:
    """What must be known for every TMDB row before writing: identity, votes, and the file order."""

    movie: np.ndarray  # MovieLens movie index, -1 for unrated catalogue rows
    catalogue: np.ndarray  # catalogue index, -1 for MovieLens rows (and their duplicates)
    tmdb: np.ndarray
    vote_count: np.ndarray
    duplicate: np.ndarray


def _tmdb_rows(world: _World, seed: int) -> _TmdbRows:
    rng = _rng(seed, _TMDB)
    linked = np.flatnonzero(world.tmdb >= 0)
    n_dup, n_cat = len(world.duplicate_of), len(world.catalogue_tmdb)
    # votes follow MovieLens popularity for rated movies (~30k for the most popular), a long tail for the rest
    relative = world.weights[linked] / world.weights.max()
    linked_votes = np.round(30_000 * relative * rng.lognormal(0.0, 0.6, len(linked))).astype(np.int64)
    source_votes = np.zeros(len(world.weights), dtype=np.int64)
    source_votes[linked] = linked_votes
    dup_votes = np.floor(source_votes[world.duplicate_of] * rng.random(n_dup) * 0.5).astype(np.int64)
    cat_votes = np.where(rng.random(n_cat) < 0.45, 0,
                         np.minimum(np.maximum(np.floor(rng.lognormal(1.0, 1.5, n_cat)), 1), 20_000)).astype(np.int64)
    rows = _TmdbRows(
        movie=np.concatenate([linked, world.duplicate_of, np.full(n_cat, -1)]).astype(np.int64),
        catalogue=np.concatenate([np.full(len(linked) + n_dup, -1), np.arange(n_cat)]).astype(np.int64),
        tmdb=np.concatenate([world.tmdb[linked], world.tmdb[world.duplicate_of], world.catalogue_tmdb]).astype(np.int64),
        vote_count=np.concatenate([linked_votes, dup_votes, cat_votes]),
        duplicate=np.concatenate([np.zeros(len(linked), bool), np.ones(n_dup, bool), np.zeros(n_cat, bool)]),
    )
    order = np.lexsort((rng.random(len(rows.tmdb)), -rows.vote_count))  # the Kaggle file is sorted by votes
    return _TmdbRows(*(getattr(rows, f)[order] for f in ("movie", "catalogue", "tmdb", "vote_count", "duplicate")))


def _tmdb_chunk(world: _World, vocab: _Vocab, rows: _TmdbRows, base_titles: pa.Array, rated: np.ndarray,
                rating_sum: np.ndarray, rng: np.random.Generator) -> pa.Table:
    n = len(rows.tmdb)
    ml = rows.movie >= 0
    movie = np.where(ml, rows.movie, 0)
    cat = np.where(ml, 0, rows.catalogue)
    adult = ~ml & _take(world.adult, cat, False)

    # latent content: MovieLens rows keep their movie's, catalogue rows draw their own
    fresh_vec = (rng.standard_normal((n, LATENT_DIM), dtype=np.float32) * world.vec_scale).astype(np.float32)
    vec = np.where(ml[:, None], world.movie_vec[movie], fresh_vec)
    fresh_affinity = _genre_scores(vec, world, rng)
    affinity = np.where(ml[:, None], world.genre_affinity[movie], fresh_affinity)
    member = np.where(ml[:, None], world.genre_member[movie], _genre_members(fresh_affinity, world.genre_thresholds))
    themes = np.where(ml[:, None], world.themes[movie], _pick_themes(vec, world, rng))
    title = pc.if_else(pa.array(ml), base_titles.take(pa.array(movie)), _titles(vocab, themes[:, 0], rng))

    # status and release date
    status_index = np.where(ml, 0, rng.choice(len(STATUSES), size=n, p=vocab.status_shares))
    released = status_index == 0
    cat_year = np.clip(LAST_YEAR - np.round(rng.gamma(1.2, 12.0, n)), FIRST_YEAR, LAST_YEAR)
    future_year = LAST_YEAR + rng.integers(0, 3, n)
    day = np.where(ml, world.release_day[movie],
                   _year_start_day(np.where(released, cat_year, future_year)) + rng.integers(0, 365, n))
    no_date = ~ml & np.where(released, rng.random(n) < 0.04, rng.random(n) < 0.5)
    release = pc.if_else(pa.array(no_date), "", pc.cast(pa.array(day.astype(np.int32), pa.date32()), pa.string()))

    # votes, popularity
    votes = rows.vote_count
    mean = np.where(rated[movie] > 0, rating_sum[movie] / np.maximum(rated[movie], 1), 3.5 + world.movie_bias[movie])
    ml_average = np.clip(6.5 + 1.5 * (mean - 3.5) + rng.normal(0, 0.3, n), 1.0, 10.0)
    cat_average = np.clip(rng.normal(6.1, 1.3 + 2 / np.sqrt(np.maximum(votes, 1)), n), 0.5, 10.0)
    average = np.where(votes == 0, 0.0, np.where(ml, ml_average, cat_average))
    average = np.where(votes <= 3, np.round(average, 1), np.round(average, 3))
    popularity = np.where(votes > 0, 0.6 + 0.04 * votes**0.78 * rng.lognormal(0, 0.5, n), rng.lognormal(np.log(0.6), 0.5, n))
    popularity = np.maximum(np.round(popularity, 3), 0.01)

    # money and length: zeros where unknown, as in TMDB
    rank = np.argsort(np.argsort(votes)) / max(n - 1, 1)
    has_budget = np.where(ml, rng.random(n) < 0.2 + 0.6 * rank, rng.random(n) < 0.04)
    budget = np.where(has_budget, np.round(np.exp(np.where(ml, rng.normal(16.5, 1.2, n), rng.normal(14.0, 1.5, n))), -4), 0)
    has_revenue = np.where(has_budget, rng.random(n) < 0.8, rng.random(n) < np.where(ml, 0.1, 0.02))
    revenue = np.where(has_revenue, np.round(np.where(has_budget, budget, np.exp(rng.normal(15.0, 1.5, n)))
                                             * rng.lognormal(0.5, 1.0, n)), 0)
    shorts = rng.random(n) < 0.15
    runtime = np.where(ml, np.clip(np.round(rng.normal(105, 18, n)), 45, 240),
                       np.where(rng.random(n) < 0.25, 0,
                                np.where(shorts, rng.integers(3, 41, n), np.clip(np.round(rng.normal(95, 20, n)), 40, 300))))

    # language, countries, companies
    language = np.where(ml & (rng.random(n) < 0.75), 0, rng.choice(len(LANGUAGES), size=n, p=vocab.language_shares))
    lang = pa.array(language)
    english = language == 0
    country = pc.if_else(pa.array(english & (rng.random(n) < 0.2)), "United Kingdom", vocab.language_countries.take(lang))
    words = _Words(vocab, rng, n)
    second = words.pick(vocab.second_countries)
    with_second = pa.array(rng.random(n) < 0.2)
    countries = pc.if_else(pc.and_(with_second, pc.not_equal(second, country)), _join(country, ", ", second), country)
    countries = pc.if_else(pa.array(rng.random(n) < np.where(ml, 0.08, 0.5)), "", countries)
    spoken = vocab.language_names.take(lang)
    spoken = pc.if_else(pa.array(~english & (rng.random(n) < 0.2)), _join(spoken, ", English"), spoken)
    spoken = pc.if_else(pa.array(rng.random(n) < np.where(ml, 0.06, 0.5)), "", spoken)
    n_companies = np.where(rng.random(n) < np.where(ml, 0.1, 0.55), 0, rng.integers(1, 4, n))
    size = len(vocab.companies)
    steps = [k for k in range(23, size) if math.gcd(k, size) == 1][:8]  # coprime with size: three distinct names
    step = rng.choice(steps, size=n)
    start = rng.integers(0, size, n)
    company_index = (start[:, None] + step[:, None] * np.arange(3)) % size
    companies = _lists(vocab.companies, company_index[np.arange(3) < n_companies[:, None]], n_companies, ", ")

    # text
    keyword_counts = np.where(rng.random(n) < np.where(ml, 0.1, 0.65), 0,
                              np.where(ml, 2 + rng.poisson(9, n), 1 + rng.poisson(3, n)))
    keywords = _keywords(vocab, themes, keyword_counts, rng)
    overview = pc.if_else(pa.array(~ml & (rng.random(n) < 0.03)), "", _overviews(vocab, themes, rng))
    tagline = _taglines(vocab, themes, rng.random(n) < np.where(ml, 0.45, 0.12), rng)
    slug = pc.replace_substring_regex(pc.utf8_lower(title), "[^a-z0-9]+", "")
    homepage = pc.if_else(pa.array(rng.random(n) < np.where(ml, 0.2, 0.05)), _join("https://www.", slug, ".com/"), "")
    imdb_number = np.where(ml, world.imdb[movie], _take(world.catalogue_imdb, cat, -1))
    imdb = pc.if_else(pa.array(imdb_number >= 0), _join("tt", pc.utf8_lpad(_text(imdb_number), 7, "0")), "")

    columns = {
        "id": _text(rows.tmdb), "title": title, "vote_average": _decimal(average, 3), "vote_count": _text(votes),
        "status": vocab.statuses.take(pa.array(status_index)), "release_date": release,
        "revenue": _text(revenue.astype(np.int64)), "runtime": _text(runtime.astype(np.int64)),
        "adult": pc.if_else(pa.array(adult), "True", "False"),
        "backdrop_path": _image_paths(rng, rng.random(n) < np.where(ml, 0.7, 0.2)),
        "budget": _text(budget.astype(np.int64)), "homepage": homepage, "imdb_id": imdb,
        "original_language": vocab.language_codes.take(lang), "original_title": title, "overview": overview,
        "popularity": _decimal(popularity, 3), "poster_path": _image_paths(rng, rng.random(n) < np.where(ml, 0.97, 0.65)),
        "tagline": tagline, "genres": _tmdb_genres(vocab, member, affinity), "production_companies": companies,
        "production_countries": countries, "spoken_languages": spoken, "keywords": keywords,
    }
    return pa.table({name: columns[name] for name in TMDB_COLUMNS})


def _take(values: np.ndarray, index: np.ndarray, fill) -> np.ndarray:
    """values[index], or fill everywhere when values is empty (no catalogue rows)."""
    return values[index] if len(values) else np.full(len(index), fill, dtype=values.dtype)


def _write_tmdb(config: SynthConfig, world: _World, vocab: _Vocab, base_titles: pa.Array, rated: np.ndarray,
                rating_sum: np.ndarray, output: _Output, progress: Progress | None, started: float) -> None:
    rows = _tmdb_rows(world, config.seed)
    total = len(rows.tmdb)
    for chunk, first in enumerate(range(0, total, TMDB_CHUNK)):
        part = _TmdbRows(*(getattr(rows, f)[first : first + TMDB_CHUNK] for f in ("movie", "catalogue", "tmdb", "vote_count", "duplicate")))
        table = _tmdb_chunk(world, vocab, part, base_titles, rated, rating_sum, _rng(config.seed, _TMDB_ROWS, chunk))
        options = pacsv.WriteOptions(include_header=chunk == 0, quoting_style="all_valid", batch_size=1 << 14)
        output.write(len(part.tmdb), table, options)
        if progress:
            progress("tmdb", first + len(part.tmdb), total, time.perf_counter() - started)


# --- entry point -------------------------------------------------------------------------------------------------


def generate(config: SynthConfig, progress: Progress | None = None) -> SynthSummary:
    """Write the four files into config.out; same config → byte-identical files."""
    validate(config)
    started = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    world = _build_world(config)
    vocab = _Vocab()
    chooser = _MovieChooser(world.weights)
    summary = SynthSummary()
    outputs: dict[str, _Output] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spin-reel-synth-writer") as pool:
        try:
            for kind in ("ratings", "movies", "links", "tmdb"):
                outputs[kind] = _Output(config.path(kind), config.gzip, pool)
            rated, rating_sum = _write_ratings(config, world, chooser, outputs["ratings"], progress, started)
            outputs["ratings"].close()
            summary.ratings_seconds = time.perf_counter() - started
            base_titles = _titles(vocab, world.themes[:, 0], _rng(config.seed, _TMDB, 1))
            _write_movies_and_links(world, vocab, base_titles, outputs["movies"], outputs["links"])
            _write_tmdb(config, world, vocab, base_titles, rated, rating_sum, outputs["tmdb"], progress, started)
            for kind, output in outputs.items():
                if not output.closed:
                    output.close()
                summary.files[kind] = output.path
                summary.rows[kind] = output.rows
                summary.bytes[kind] = output.path.stat().st_size
        except BaseException:
            for output in outputs.values():
                output.abort()
            raise
    summary.rated_movies = int((rated > 0).sum())
    summary.seconds = time.perf_counter() - started
    return summary
