/*  mem_minhash — MinHash signatures for near-duplicate memories. See
    mem_minhash.h for the contract and the choice of normalisation.

    Hashing, all on 64-bit integers with the splitmix64 finaliser (s_mix):
    - a word is FNV-1a over its lowercased code points, then mixed;
    - a 3-gram chains the mix over its three word hashes (order matters),
      a 1-2 word text's shingle is one word hash under another seed;
    - hash function i of a shingle s is the top 32 bits of
      s_mix (s + (i + 1) * golden ratio), i.e. the i-th output of a
      splitmix64 stream started at s: 64 independent-looking values from
      one well-mixed 64-bit shingle hash.
    Shingles are collected, sorted and made unique first, so n_shingles
    counts distinct ones and a repeated phrase costs nothing twice.

    Words are read by one pass over the bytes without a buffer: each
    character is classified (word, separator, apostrophe, or a CJK
    character that is a word of its own), lowercased and fed to the word's
    hash at once, so no word is ever cut.
*/
#include "mem_minhash.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef NDEBUG
#include <assert.h>

_Static_assert (MEM_MINHASH_N % MEM_MINHASH_BANDS == 0, "bands must divide the signature");

#define S_ROWS       (MEM_MINHASH_N / MEM_MINHASH_BANDS)
#define S_GOLDEN     0x9E3779B97F4A7C15ull
#define S_FNV_BASIS  0xCBF29CE484222325ull
#define S_FNV_PRIME  0x00000100000001B3ull
#define S_SEED_TRI   0x5B2E0C0F6A1D3C47ull   //  domain of 3-gram shingles
#define S_SEED_UNI   0x2F8A6B1E94C7D305ull   //  domain of 1-2 word shingles
#define S_SEED_BAND  0xD6E8FEB86659FD93ull   //  domain of band keys

//  What a character is to the word reader
typedef enum { S_SEP, S_WORD, S_APOS, S_SINGLE } s_kind_t;

typedef struct {
    uint32_t first, last;
} s_range_t;

//  Non-ASCII code points that separate words: Latin-1 punctuation and
//  symbols (not ª ² ³ µ ¹ º), × and ÷, general punctuation and spaces,
//  currency, arrows/math/box/dingbats, CJK and full-width punctuation,
//  variation selectors, BOM, specials, emoji and tags.
static const s_range_t s_separators[] = {
    {0x80, 0xA9},      {0xAB, 0xB1},      {0xB4, 0xB4},      {0xB6, 0xB8},
    {0xBB, 0xBF},      {0xD7, 0xD7},      {0xF7, 0xF7},      {0x2000, 0x206F},
    {0x20A0, 0x20FF},  {0x2190, 0x2BFF},  {0x3000, 0x303F},  {0xFE00, 0xFE0F},
    {0xFE30, 0xFE4F},  {0xFEFF, 0xFEFF},  {0xFF00, 0xFF0F},  {0xFF1A, 0xFF20},
    {0xFF3B, 0xFF40},  {0xFF5B, 0xFF65},  {0xFFF0, 0xFFFF},  {0x1F000, 0x1FBFF},
    {0xE0000, 0xE007F},
};

//  Scripts written without spaces: one word per character
static const s_range_t s_singles[] = {
    {0x3040, 0x30FF},  {0x3400, 0x4DBF},  {0x4E00, 0x9FFF},   {0xAC00, 0xD7AF},
    {0xF900, 0xFAFF},  {0xFF66, 0xFF9F},  {0x20000, 0x3FFFF},
};

//  Capitals first..last become cp + delta; with step 2, only those of
//  first's parity are capitals (the alternating pairs of Latin Extended).
static const struct {
    uint32_t first, last;
    uint32_t delta, step;
} s_capitals[] = {
    {0xC0, 0xD6, 32, 1},     {0xD8, 0xDE, 32, 1},     {0x100, 0x12E, 1, 2},
    {0x132, 0x136, 1, 2},    {0x139, 0x147, 1, 2},    {0x14A, 0x176, 1, 2},
    {0x179, 0x17D, 1, 2},    {0x386, 0x386, 38, 1},   {0x388, 0x38A, 37, 1},
    {0x38C, 0x38C, 64, 1},   {0x38E, 0x38F, 63, 1},   {0x391, 0x3A1, 32, 1},
    {0x3A3, 0x3AB, 32, 1},   {0x3C2, 0x3C2, 1, 1},    {0x400, 0x40F, 80, 1},
    {0x410, 0x42F, 32, 1},   {0x460, 0x480, 1, 2},    {0x48A, 0x4BE, 1, 2},
    {0x531, 0x556, 48, 1},   {0x1E00, 0x1E94, 1, 2},  {0x1EA0, 0x1EFE, 1, 2},
};

#define S_COUNT(table) (sizeof (table) / sizeof (table)[0])

//  The splitmix64 finaliser: a bijective, well-avalanched 64-bit mix.
static inline uint64_t
s_mix (uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool
s_in (uint32_t cp, const s_range_t *ranges, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cp >= ranges[i].first && cp <= ranges[i].last)
            return true;
    return false;
}

//  Decodes one well-formed UTF-8 sequence at p (first byte >= 0x80) into
//  *cp; returns its length, or 0 for an invalid, overlong, surrogate or
//  truncated sequence.
static size_t
s_decode (const unsigned char *p, size_t avail, uint32_t *cp)
{
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 0;
    if (n == 0 || n > avail || p[0] > 0xF4)
        return 0;
    uint32_t c = p[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3Fu);
    }
    if (c < least[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

static s_kind_t
s_kind (uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9'))
            return S_WORD;
        return cp == '\'' ? S_APOS : S_SEP;
    }
    if (cp == 0x2019)           //  right single quotation mark, as apostrophe
        return S_APOS;
    if (s_in (cp, s_separators, S_COUNT (s_separators)))
        return S_SEP;
    if (s_in (cp, s_singles, S_COUNT (s_singles)))
        return S_SINGLE;
    return S_WORD;
}

static uint32_t
s_lower (uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    if (cp == 0x130)            //  I with dot above
        return 'i';
    if (cp == 0x178)            //  Y with diaeresis
        return 0xFF;
    for (size_t i = 0; i < S_COUNT (s_capitals); i++)
        if (cp >= s_capitals[i].first && cp <= s_capitals[i].last
            && (cp - s_capitals[i].first) % s_capitals[i].step == 0)
            return cp + s_capitals[i].delta;
    return cp;
}

//  Reads the words of one text
typedef struct {
    const unsigned char *p;
    const unsigned char *end;
} s_words_t;

//  Hashes the next word of the text that is not an article into *hash;
//  returns false when the text has no more words.
static bool
s_next_word (s_words_t *self, uint64_t *hash)
{
    while (self->p < self->end) {
        uint64_t h = S_FNV_BASIS;
        uint32_t head[3] = {0};     //  first code points, to spot articles
        size_t chars = 0;
        bool apos = false;          //  an apostrophe follows the word so far
        while (self->p < self->end) {
            uint32_t cp = *self->p;
            size_t n = 1;
            if (cp >= 0x80 && (n = s_decode (self->p, (size_t) (self->end - self->p), &cp)) == 0) {
                cp = ' ';           //  an invalid byte separates
                n = 1;
            }
            s_kind_t kind = s_kind (cp);
            if (kind == S_SINGLE && chars > 0)
                break;              //  ends this word; read again next time
            self->p += n;
            if (kind == S_APOS && chars > 0 && !apos) {
                apos = true;
                continue;
            }
            if (kind == S_APOS || kind == S_SEP) {
                if (chars > 0)
                    break;
                continue;
            }
            apos = false;
            cp = s_lower (cp);
            h = (h ^ cp) * S_FNV_PRIME;
            if (chars < 3)
                head[chars] = cp;
            chars++;
            if (kind == S_SINGLE)
                break;
        }
        bool article = (chars == 1 && head[0] == 'a')
                       || (chars == 2 && head[0] == 'a' && head[1] == 'n')
                       || (chars == 3 && head[0] == 't' && head[1] == 'h' && head[2] == 'e');
        if (chars > 0 && !article) {
            *hash = s_mix (h + chars);
            return true;
        }
    }
    return false;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

//  Fills set with the text's distinct shingle hashes, sorted; returns how
//  many. set holds MEM_MINHASH_SHINGLES_MAX.
static size_t
s_shingles (const char *text, size_t len, uint64_t *set)
{
    s_words_t words = {(const unsigned char *) text, (const unsigned char *) text + len};
    if (!text)
        words.end = words.p;
    uint64_t w[3] = {0, 0, 0};  //  the last three words, oldest first
    size_t n_words = 0, n = 0;
    uint64_t hash;
    while (n < MEM_MINHASH_SHINGLES_MAX && s_next_word (&words, &hash)) {
        w[0] = w[1];
        w[1] = w[2];
        w[2] = hash;
        if (++n_words >= 3)
            set[n++] = s_mix (s_mix (s_mix (w[0] ^ S_SEED_TRI) ^ w[1]) ^ w[2]);
    }
    if (n_words < 3)            //  1-2 words: the words themselves
        for (size_t i = 3 - n_words; i < 3; i++)
            set[n++] = s_mix (w[i] ^ S_SEED_UNI);
    qsort (set, n, sizeof *set, s_cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (distinct == 0 || set[i] != set[distinct - 1])
            set[distinct++] = set[i];
    return distinct;
}

void
mem_minhash_compute (const char *text, size_t len, mem_minhash_t *sig)
{
    assert (sig);
    uint64_t set[MEM_MINHASH_SHINGLES_MAX];
    size_t n = s_shingles (text, len, set);
    sig->n_shingles = (uint32_t) n;
    for (size_t i = 0; i < MEM_MINHASH_N; i++)
        sig->h[i] = UINT32_MAX;
    for (size_t s = 0; s < n; s++) {
        uint64_t state = set[s];
        for (size_t i = 0; i < MEM_MINHASH_N; i++) {
            state += S_GOLDEN;
            uint32_t v = (uint32_t) (s_mix (state) >> 32);
            if (v < sig->h[i])
                sig->h[i] = v;
        }
    }
}

uint64_t
mem_minhash_band (const mem_minhash_t *sig, unsigned band)
{
    assert (sig && band < MEM_MINHASH_BANDS);
    uint64_t key = s_mix ((uint64_t) (band + 1) * S_SEED_BAND);
    for (unsigned r = 0; r < S_ROWS; r++)
        key = s_mix (key ^ sig->h[band * S_ROWS + r]);
    return key;
}

double
mem_minhash_estimate (const mem_minhash_t *a, const mem_minhash_t *b)
{
    assert (a && b);
    if (a->n_shingles == 0 || b->n_shingles == 0)
        return 0;
    unsigned equal = 0;
    for (size_t i = 0; i < MEM_MINHASH_N; i++)
        equal += a->h[i] == b->h[i];
    return (double) equal / MEM_MINHASH_N;
}

double
mem_minhash_jaccard (const char *a, size_t alen, const char *b, size_t blen)
{
    uint64_t x[MEM_MINHASH_SHINGLES_MAX], y[MEM_MINHASH_SHINGLES_MAX];
    size_t nx = s_shingles (a, alen, x);
    size_t ny = s_shingles (b, blen, y);
    if (nx == 0 || ny == 0)
        return 0;
    size_t i = 0, j = 0, common = 0;
    while (i < nx && j < ny) {
        if (x[i] < y[j])
            i++;
        else if (x[i] > y[j])
            j++;
        else {
            common++;
            i++;
            j++;
        }
    }
    return (double) common / (double) (nx + ny - common);
}

//  --------------------------------------------------------------------------
//  Selftest

//  Deterministic generator for test data (splitmix64)
static uint64_t
s_rand (uint64_t *state)
{
    *state += S_GOLDEN;
    return s_mix (*state);
}

#define S_TEXT_WORDS 80         //  room for a 60-word text after insertions
#define S_WORD_BYTES 10

typedef struct {
    char words[S_TEXT_WORDS][S_WORD_BYTES];
    size_t n;
} s_text_t;

//  A random word of 4 to 8 lowercase letters (never an article)
static void
s_random_word (uint64_t *rng, char *word)
{
    size_t len = 4 + s_rand (rng) % 5;
    for (size_t i = 0; i < len; i++)
        word[i] = (char) ('a' + s_rand (rng) % 26);
    word[len] = '\0';
}

static void
s_random_text (uint64_t *rng, s_text_t *text, size_t words)
{
    text->n = words;
    for (size_t i = 0; i < words; i++)
        s_random_word (rng, text->words[i]);
}

//  One random edit: a substitution, an insertion or a deletion
static void
s_edit (uint64_t *rng, s_text_t *text)
{
    size_t at = s_rand (rng) % text->n;
    unsigned kind = (unsigned) (s_rand (rng) % 3);
    if (kind == 1 && text->n < S_TEXT_WORDS) {
        memmove (text->words[at + 1], text->words[at], (text->n - at) * S_WORD_BYTES);
        text->n++;
    }
    else if (kind == 2 && text->n > 10) {
        memmove (text->words[at], text->words[at + 1], (text->n - at - 1) * S_WORD_BYTES);
        text->n--;
        return;
    }
    s_random_word (rng, text->words[at]);
}

static size_t
s_join (const s_text_t *text, char *out, size_t size)
{
    size_t len = 0;
    for (size_t i = 0; i < text->n; i++)
        len += (size_t) snprintf (out + len, size - len, i ? " %s" : "%s", text->words[i]);
    assert (len < size);
    return len;
}

static bool
s_share_band (const mem_minhash_t *a, const mem_minhash_t *b)
{
    for (unsigned band = 0; band < MEM_MINHASH_BANDS; band++)
        if (mem_minhash_band (a, band) == mem_minhash_band (b, band))
            return true;
    return false;
}

static double
s_estimate (const char *a, const char *b)
{
    mem_minhash_t x, y;
    mem_minhash_compute (a, strlen (a), &x);
    mem_minhash_compute (b, strlen (b), &y);
    return mem_minhash_estimate (&x, &y);
}

static double
s_jaccard (const char *a, const char *b)
{
    return mem_minhash_jaccard (a, strlen (a), b, strlen (b));
}

void
mem_minhash_test (bool verbose)
{
    printf (" * mem_minhash: ");
    if (verbose)
        printf ("\n");
    const char *dark = "The user prefers dark mode in the editor";
    mem_minhash_t sig, other;

    //  Identical texts: the same signature, estimate 1
    mem_minhash_compute (dark, strlen (dark), &sig);
    mem_minhash_compute (dark, strlen (dark), &other);
    assert (memcmp (&sig, &other, sizeof sig) == 0);
    assert (mem_minhash_estimate (&sig, &other) == 1.0);
    assert (s_jaccard (dark, dark) == 1.0);
    //  "the" x2 dropped: user prefers dark mode in editor = 4 trigrams
    assert (sig.n_shingles == 4);

    //  Case and punctuation only: the same shingles
    const char *variants[] = {
        "the user prefers dark mode in the editor.",
        "THE USER PREFERS DARK MODE, IN THE EDITOR!!!",
        "  The user -- prefers dark-mode (in the editor)\n",
        "User prefers dark mode in the editor",      //  articles do not count
        "The user prefers dark mode in an editor",
    };
    for (size_t i = 0; i < S_COUNT (variants); i++) {
        if (verbose)
            printf ("    '%s': estimate %.3f\n", variants[i], s_estimate (dark, variants[i]));
        assert (s_estimate (dark, variants[i]) >= 0.9);
        assert (s_jaccard (dark, variants[i]) == 1.0);
    }
    //  Apostrophes: straight, typographic or none are the same word
    assert (s_jaccard ("the user don't like tabs", "The user don\xe2\x80\x99t like tabs") == 1.0);
    assert (s_jaccard ("the user don't like tabs", "the user dont like tabs") == 1.0);
    //  Lowercasing beyond ASCII
    assert (s_jaccard ("\xc3\x9c" "BER ALLES GUT", "\xc3\xbc" "ber alles gut") == 1.0);
    assert (s_jaccard ("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\x9c\xd0\x98\xd0\xa0 "
                       "\xd0\x94\xd0\x9e\xd0\x9c",
                       "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80 "
                       "\xd0\xb4\xd0\xbe\xd0\xbc")
            == 1.0);
    assert (s_jaccard ("\xce\x86\xce\xa1\xce\xa4\xce\x9f\xce\xa3 x y",
                       "\xce\xac\xcf\x81\xcf\x84\xce\xbf\xcf\x82 x y")
            == 1.0);

    //  Different meaning is not a duplicate
    const char *light = "User prefers light mode";
    mem_minhash_compute (light, strlen (light), &other);
    if (verbose)
        printf ("    '%s': estimate %.3f, jaccard %.3f\n", light,
                mem_minhash_estimate (&sig, &other), s_jaccard (dark, light));
    assert (s_jaccard (dark, light) == 0);
    assert (mem_minhash_estimate (&sig, &other) < 0.2);
    assert (!s_share_band (&sig, &other));
    //  Stopwords are kept on purpose: a negation is not a duplicate
    assert (s_jaccard ("the user does not want telemetry", "the user does want telemetry")
            < 0.5);
    assert (s_jaccard ("run the tests before the deploy", "run the tests after the deploy")
            < 0.5);
    //  Order matters
    assert (s_jaccard ("prefer tabs over spaces", "prefer spaces over tabs") == 0);

    //  Unrelated texts
    const char *a = "Deploys go through the staging cluster before production";
    const char *b = "Caroline's birthday is on the twelfth of March, buy flowers";
    if (verbose)
        printf ("    unrelated: estimate %.3f\n", s_estimate (a, b));
    assert (s_estimate (a, b) < 0.2);
    assert (s_jaccard (a, b) == 0);

    //  Short texts: 1-2 words are their own shingles
    assert (s_jaccard ("dark mode", "Dark, mode!") == 1.0);
    assert (s_jaccard ("dark mode", "mode dark") == 1.0);
    assert (s_jaccard ("dark mode", "dark") == 0.5);
    assert (s_jaccard ("dark", "light") == 0);
    mem_minhash_compute ("Dark.", 5, &sig);
    assert (sig.n_shingles == 1);
    //  CJK: a word per character, so 3-grams of characters
    mem_minhash_compute ("\xe8\xa8\x98\xe6\x86\xb6\xe3\x83\x87\xe3\x83\xbc", 12, &sig);
    assert (sig.n_shingles == 2);

    //  Empty, NULL, no words, invalid UTF-8: no crash, no shingles, 0
    mem_minhash_compute (NULL, 0, &sig);
    assert (sig.n_shingles == 0);
    for (size_t i = 0; i < MEM_MINHASH_N; i++)
        assert (sig.h[i] == UINT32_MAX);
    mem_minhash_compute ("", 0, &other);
    assert (mem_minhash_estimate (&sig, &other) == 0);
    assert (mem_minhash_jaccard (NULL, 0, NULL, 0) == 0);
    assert (mem_minhash_jaccard ("", 0, dark, strlen (dark)) == 0);
    mem_minhash_compute (" ,.;!  \t\n", 9, &sig);
    assert (sig.n_shingles == 0);
    mem_minhash_compute ("the a an", 8, &sig);
    assert (sig.n_shingles == 0);
    {
        const char *bad[] = {
            "abc\xff\xfe" "def ghi",  "abc\xc0\xaf" "def",  "\xe0\x80\xaf",
            "abc\xed\xa0\x80" "def",  "\xf4\x90\x80\x80",   "abc \xe2\x82",
            "\xf0\x9f\x98",           "\x80\x80\x80\x80",   "\xc3",
        };
        for (size_t i = 0; i < S_COUNT (bad); i++) {
            mem_minhash_compute (bad[i], strlen (bad[i]), &sig);
            assert (mem_minhash_estimate (&sig, &sig) <= 1.0);
            assert (mem_minhash_jaccard (bad[i], strlen (bad[i]), dark, strlen (dark)) < 1.0);
        }
        //  invalid bytes separate words
        assert (s_jaccard ("abc\xff" "def ghi", "abc def ghi") == 1.0);
        uint64_t rng = 42;
        char noise[4096];
        for (size_t round = 0; round < 64; round++) {
            for (size_t i = 0; i < sizeof noise; i++)
                noise[i] = (char) s_rand (&rng);
            mem_minhash_compute (noise, sizeof noise, &sig);
            assert (mem_minhash_jaccard (noise, sizeof noise, noise, round) <= 1.0);
        }
        //  every byte value alone and at the end of an exactly sized buffer
        for (unsigned v = 0; v < 256; v++) {
            char text[3] = {'a', 'b', (char) v};
            mem_minhash_compute (text + 2, 1, &sig);
            mem_minhash_compute (text, 3, &sig);
        }
    }

    //  Long text: only the first MEM_MINHASH_SHINGLES_MAX shingles count
    {
        size_t size = 64 * 1024, len = 0;
        char *text = malloc (size);
        assert (text);
        uint64_t rng = 7;
        char word[S_WORD_BYTES];
        while (len + S_WORD_BYTES + 1 < size) {
            s_random_word (&rng, word);
            len += (size_t) snprintf (text + len, size - len, "%s ", word);
        }
        mem_minhash_compute (text, len, &sig);
        assert (sig.n_shingles == MEM_MINHASH_SHINGLES_MAX);
        assert (mem_minhash_jaccard (text, len, text, len) == 1.0);
        free (text);
    }

    //  A one-word substitution in a 20-word text at position p touches the
    //  c = min (p, 17) - max (p - 2, 0) + 1 trigrams that hold it:
    //  J = (18 - c) / (18 + c), from 15/21 in the middle to 17/19 at the ends
    {
        uint64_t rng = 1;
        char one[512], two[512];
        size_t shared = 0, pairs = 0;
        for (size_t round = 0; round < 50; round++) {
            s_text_t text, edited;
            s_random_text (&rng, &text, 20);
            s_join (&text, one, sizeof one);
            mem_minhash_compute (one, strlen (one), &sig);
            assert (sig.n_shingles == 18);
            for (size_t p = 0; p < 20; p++) {
                edited = text;
                s_random_word (&rng, edited.words[p]);
                s_join (&edited, two, sizeof two);
                size_t lo = p > 2 ? p - 2 : 0, hi = p < 17 ? p : 17;
                double want = (double) (18 - (hi - lo + 1)) / (double) (18 + (hi - lo + 1));
                double got = s_jaccard (one, two);
                assert (got == want);
                assert (got >= 15.0 / 21 && got <= 17.0 / 19);
                mem_minhash_compute (two, strlen (two), &other);
                shared += s_share_band (&sig, &other);
                pairs++;
            }
        }
        //  J >= 0.714: P(share) >= 1 - (1 - 0.714^4)^16 = 99.2 %
        if (verbose)
            printf ("    one-word edits: %zu of %zu share a band\n", shared, pairs);
        assert (shared * 100 >= pairs * 97);
    }

    //  LSH over many generated pairs: 1 to 20 random edits of a text of 20
    //  to 59 words (identical pairs would make the J >= 0.8 side trivial)
    {
        uint64_t rng = 2024;
        char one[1024], two[1024];
        size_t high = 0, high_shared = 0, low = 0, low_shared = 0;
        double error = 0;
        size_t pairs = 4000;
        for (size_t round = 0; round < pairs; round++) {
            s_text_t text, edited;
            s_random_text (&rng, &text, 20 + s_rand (&rng) % 40);
            edited = text;
            size_t edits = 1 + s_rand (&rng) % 20;
            for (size_t e = 0; e < edits; e++)
                s_edit (&rng, &edited);
            s_join (&text, one, sizeof one);
            s_join (&edited, two, sizeof two);
            double exact = s_jaccard (one, two);
            mem_minhash_compute (one, strlen (one), &sig);
            mem_minhash_compute (two, strlen (two), &other);
            double estimate = mem_minhash_estimate (&sig, &other);
            error += estimate > exact ? estimate - exact : exact - estimate;
            bool shared = s_share_band (&sig, &other);
            if (exact == 1.0)
                continue;       //  edits that undid each other
            if (exact >= 0.8) {
                high++;
                high_shared += shared;
            }
            else if (exact < 0.3) {
                low++;
                low_shared += shared;
            }
        }
        if (verbose)
            printf ("    LSH: J >= 0.8 share a band %zu/%zu, J < 0.3 %zu/%zu, "
                    "mean |estimate - J| %.4f\n",
                    high_shared, high, low_shared, low, error / (double) pairs);
        assert (high >= 200 && low >= 200);
        assert (high_shared * 100 >= high * 99);
        assert (low_shared * 100 <= low * 5);
        //  64 samples: sd of the estimate sqrt (J (1 - J) / 64) <= 0.0625
        assert (error / (double) pairs < 0.06);
    }

    //  Pinned output: band keys are persisted, so any change to the
    //  normalisation or hashing must show here (and bump MEM_MINHASH_VERSION)
    mem_minhash_compute (dark, strlen (dark), &sig);
    if (verbose)
        printf ("    pinned: h[0] %08x band 0 %016llx band 15 %016llx\n", sig.h[0],
                (unsigned long long) mem_minhash_band (&sig, 0),
                (unsigned long long) mem_minhash_band (&sig, 15));
    assert (sig.h[0] == 0x004bea26u);
    assert (mem_minhash_band (&sig, 0) == 0x1cbec5977496fd0aull);
    assert (mem_minhash_band (&sig, 15) == 0xfb1818106e3d914eull);
    assert (mem_minhash_band (&sig, 0) != mem_minhash_band (&sig, 1));
    printf ("OK\n");
}
