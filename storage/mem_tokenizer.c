/*  mem_tokenizer — text to index terms, the same way at capture and at
    query time. See mem_tokenizer.h for the contract.

    One pass over the bytes, no allocation: ASCII goes through a 128-entry
    table (separator, apostrophe, or the lowercased letter/digit); other
    bytes are decoded as UTF-8 by hand, strictly (no overlongs, surrogates
    or code points above U+10FFFF); a byte that does not start a valid
    sequence is a separator and decoding resumes at the next byte. The
    current word is built, lowercased, in a stack buffer of MEM_TERM_MAX
    bytes; characters that no longer fit are dropped whole, so a long word
    is cut at a code-point boundary to at most MEM_TERM_MAX - 1 bytes.

    Choices worth knowing:
    - A word is a run of letters/digits. Outside ASCII everything counts as
      a letter except Latin-1 punctuation and symbols, general punctuation,
      currency, arrows/math/box/shapes/dingbats, CJK punctuation, full-width
      punctuation, variation selectors, specials (U+FFF0..) and emoji,
      which separate words.
    - An apostrophe (' or U+2019) between two word characters is dropped
      and the word continues: "don't" -> "dont", "caroline's" -> "carolines"
      (stem "carolin"). Anywhere else it separates.
    - CJK ideographs, kana and Hangul syllables are one term per character
      (those scripts do not put spaces between words).
    - Stopwords are checked on the lowercased word before stemming; words
      of one ASCII letter are dropped as noise; single digits and single
      non-ASCII characters are kept.
    - Only words made purely of ASCII letters (after lowercasing, so
      U+0130 "I with dot" -> 'i' counts) are stemmed, and only when not cut.
    - Positions count every word, including stopwords and dropped ones,
      and each CJK character.
*/
#include "mem_tokenizer.h"
#include "mem_stem.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#undef NDEBUG
#include <assert.h>

#define S_TERM_LIMIT (MEM_TERM_MAX - 1)     //  longest term, in bytes

//  Classes in s_ascii for bytes that are not word characters
#define S_SEP  0
#define S_APOS 1

//  ASCII byte -> lowercased letter or digit, or S_SEP / S_APOS
static const unsigned char s_ascii[128] = {
    ['\''] = S_APOS,
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
    ['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
    ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
    ['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l',
    ['M'] = 'm', ['N'] = 'n', ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r',
    ['S'] = 's', ['T'] = 't', ['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x',
    ['Y'] = 'y', ['Z'] = 'z',
    ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f',
    ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l',
    ['m'] = 'm', ['n'] = 'n', ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r',
    ['s'] = 's', ['t'] = 't', ['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x',
    ['y'] = 'y', ['z'] = 'z',
};

//  English stopwords, plus common contractions as they look once the
//  apostrophe is dropped. Sorted (strcmp order) for the binary search;
//  mem_tokenizer_test checks the order. "id" (I'd) is left out on purpose:
//  it is a meaningful term in technical notes.
static const char *s_stopwords[] = {
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an",
    "and", "any", "are", "arent", "as", "at", "be", "because", "been", "before",
    "being", "below", "between", "both", "but", "by", "can", "cant", "could",
    "couldnt", "did", "didnt", "do", "does", "doesnt", "doing", "dont", "down",
    "during", "each", "few", "for", "from", "further", "had", "hadnt", "has",
    "hasnt", "have", "havent", "having", "he", "her", "here", "heres", "hers",
    "herself", "hes", "him", "himself", "his", "how", "hows", "i", "if", "im", "in",
    "into", "is", "isnt", "it", "its", "itself", "ive", "just", "me", "more", "most",
    "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only",
    "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she",
    "shes", "should", "shouldnt", "so", "some", "such", "than", "that", "thats",
    "the", "their", "theirs", "them", "themselves", "then", "there", "theres",
    "these", "they", "theyd", "theyll", "theyre", "theyve", "this", "those",
    "through", "to", "too", "under", "until", "up", "very", "was", "wasnt", "we",
    "were", "werent", "weve", "what", "whats", "when", "where", "wheres", "which",
    "while", "who", "whom", "whos", "why", "will", "with", "wont", "would",
    "wouldnt", "you", "youd", "youll", "youre", "yours", "yourself", "yourselves",
    "youve",
};

#define S_STOPWORDS     (sizeof s_stopwords / sizeof s_stopwords[0])
#define S_STOPWORD_MAX  10      //  longest stopword ("themselves")

//  Tokenizer state for one call of mem_tokenize.
typedef struct {
    mem_token_fn *fn;
    void *arg;
    char buf[MEM_TERM_MAX];     //  the current word, lowercased
    size_t len;                 //  bytes in buf
    bool in_word;
    bool apos;                  //  an apostrophe follows the word so far
    bool cut;                   //  characters were dropped: buf is full
    bool letters_only;          //  buf holds only ASCII letters
    unsigned position;          //  of the current (or next) word
    unsigned emitted;
    bool raw;                   //  mem_tokenize_raw: no stopwords, no stemming
} s_state_t;

//  The stopwords in an open-addressing hash set, built once: checked for
//  every word of every capture and query, so one probe beats a search.
#define S_SET_SIZE 512          //  power of two, over twice the list
static uint16_t s_set[S_SET_SIZE]; //  index + 1 into s_stopwords; 0 = empty
static uint8_t s_set_len[S_STOPWORDS];
static pthread_once_t s_set_once = PTHREAD_ONCE_INIT;

static uint32_t
s_word_hash (const char *word, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t) word[i]) * 16777619u;
    return h;
}

static void
s_set_build (void)
{
    for (size_t i = 0; i < S_STOPWORDS; i++) {
        s_set_len[i] = (uint8_t) strlen (s_stopwords[i]);
        uint32_t at = s_word_hash (s_stopwords[i], s_set_len[i]) & (S_SET_SIZE - 1);
        while (s_set[at])
            at = (at + 1) & (S_SET_SIZE - 1);
        s_set[at] = (uint16_t) (i + 1);
    }
}

bool
mem_tokenizer_is_stopword (const char *word, size_t len)
{
    if (len == 0 || len > S_STOPWORD_MAX)
        return false;
    pthread_once (&s_set_once, s_set_build);
    uint32_t at = s_word_hash (word, len) & (S_SET_SIZE - 1);
    for (; s_set[at]; at = (at + 1) & (S_SET_SIZE - 1)) {
        size_t i = s_set[at] - 1u;
        if (s_set_len[i] == len && memcmp (s_stopwords[i], word, len) == 0)
            return true;
    }
    return false;
}

//  Passes one term (buf[0..len)) to the callback.
static void
s_emit (s_state_t *self, size_t len)
{
    self->buf[len] = '\0';
    if (self->fn)
        self->fn (self->buf, len, self->position, self->arg);
    self->emitted++;
}

//  Ends the current word: filters, stems and emits it, and moves on one
//  position.
static void
s_end_word (s_state_t *self)
{
    size_t len = self->len;
    if (self->raw)
        s_emit (self, len);
    else if (self->letters_only) {
        if (len > 1 && !mem_tokenizer_is_stopword (self->buf, len)) {
            if (!self->cut)
                len = mem_stem (self->buf, len);
            s_emit (self, len);
        }
    }
    else
        s_emit (self, len);
    self->position++;
    self->in_word = false;
    self->apos = false;
    self->cut = false;
    self->letters_only = true;
    self->len = 0;
}

//  Appends one word character of n bytes (already lowercased and encoded)
//  unless it would not fit; once one has not fit, nothing more is added.
static inline void
s_append (s_state_t *self, const char *bytes, size_t n)
{
    self->in_word = true;
    self->apos = false;
    if (self->cut)
        return;
    if (self->len + n > S_TERM_LIMIT) {
        self->cut = true;
        return;
    }
    memcpy (self->buf + self->len, bytes, n);
    self->len += n;
}

//  Decodes one UTF-8 sequence starting at p (a byte >= 0x80). Returns the
//  number of bytes used and sets *cp, or returns 0 if p does not start a
//  valid, complete sequence within end.
static size_t
s_decode (const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
    unsigned char b0 = p[0];
    size_t avail = (size_t) (end - p);
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80)
            return 0;
        *cp = ((uint32_t) (b0 & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((b0 == 0xE0 && p[1] < 0xA0)         //  overlong
            || (b0 == 0xED && p[1] > 0x9F))     //  surrogate
            return 0;
        *cp = ((uint32_t) (b0 & 0x0F) << 12) | ((uint32_t) (p[1] & 0x3F) << 6)
              | (p[2] & 0x3F);
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80
            || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((b0 == 0xF0 && p[1] < 0x90)         //  overlong
            || (b0 == 0xF4 && p[1] > 0x8F))     //  above U+10FFFF
            return 0;
        *cp = ((uint32_t) (b0 & 0x07) << 18) | ((uint32_t) (p[1] & 0x3F) << 12)
              | ((uint32_t) (p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        return 4;
    }
    return 0;                   //  continuation byte, C0/C1 overlong, F5..FF
}

//  Encodes cp (a valid scalar value >= 0x80 or not) as UTF-8; returns bytes.
static size_t
s_encode (uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xC0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xE0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char) (0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char) (0xF0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char) (0x80 | (cp & 0x3F));
    return 4;
}

//  True if the non-ASCII code point separates words.
static bool
s_is_separator (uint32_t cp)
{
    if (cp < 0x100) {
        if (cp <= 0xBF)
            return !(cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5
                     || cp == 0xB9 || cp == 0xBA);
        return cp == 0xD7 || cp == 0xF7;
    }
    if (cp < 0x2000)
        return false;
    if (cp <= 0x206F)           //  general punctuation, spaces, ZWJ
        return true;
    if (cp >= 0x20A0 && cp <= 0x20FF)   //  currency, combining marks for symbols
        return true;
    if (cp >= 0x2190 && cp <= 0x2BFF)   //  arrows, math, box, shapes, dingbats
        return true;
    if (cp >= 0x3000 && cp <= 0x303F)   //  CJK punctuation
        return true;
    if (cp < 0xFE00)
        return false;
    if (cp <= 0xFE1F)           //  variation selectors, vertical forms
        return true;
    if (cp >= 0xFE30 && cp <= 0xFE4F)   //  CJK compatibility forms
        return true;
    if (cp == 0xFEFF)           //  byte order mark
        return true;
    if ((cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20)
        || (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65))
        return true;            //  full-width punctuation
    if (cp >= 0xFFF0 && cp <= 0xFFFF)   //  specials, replacement character
        return true;
    if (cp >= 0x1F000 && cp <= 0x1FBFF) //  emoji, pictographs, legacy symbols
        return true;
    if (cp >= 0xE0000 && cp <= 0xE007F) //  tags (emoji flag sequences)
        return true;
    return false;
}

//  True for characters emitted one per term: CJK ideographs, kana, Hangul.
static bool
s_is_cjk (uint32_t cp)
{
    return (cp >= 0x3040 && cp <= 0x30FF)       //  Hiragana, Katakana
           || (cp >= 0x3400 && cp <= 0x4DBF)    //  CJK extension A
           || (cp >= 0x4E00 && cp <= 0x9FFF)    //  CJK unified ideographs
           || (cp >= 0xAC00 && cp <= 0xD7AF)    //  Hangul syllables
           || (cp >= 0xF900 && cp <= 0xFAFF)    //  CJK compatibility ideographs
           || (cp >= 0xFF66 && cp <= 0xFF9F)    //  half-width Katakana
           || (cp >= 0x20000 && cp <= 0x3FFFF); //  CJK extensions B and later
}

//  Simple lowercase mapping for Latin-1, Latin Extended-A, Greek and
//  Cyrillic capitals; other code points map to themselves.
static uint32_t
s_lower (uint32_t cp)
{
    if (cp < 0xC0)
        return cp;
    if (cp <= 0xDE)
        return cp == 0xD7 ? cp : cp + 0x20;
    if (cp < 0x100)
        return cp;
    if (cp <= 0x17F) {
        if (cp == 0x130)        //  I with dot above
            return 'i';
        if (cp == 0x178)        //  Y with diaeresis
            return 0xFF;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
            return (cp & 1) ? cp + 1 : cp;
        if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F)
            return cp;          //  lowercase letters without a pair here
        return (cp & 1) ? cp : cp + 1;
    }
    if (cp >= 0x391 && cp <= 0x3A9)
        return cp == 0x3A2 ? cp : cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 0x50;
    if (cp >= 0x410 && cp <= 0x42F)
        return cp + 0x20;
    return cp;
}

static unsigned s_tokenize (const char *text, size_t len, mem_token_fn *fn, void *arg, bool raw);

unsigned
mem_tokenize (const char *text, size_t len, mem_token_fn *fn, void *arg)
{
    return s_tokenize (text, len, fn, arg, false);
}

unsigned
mem_tokenize_raw (const char *text, size_t len, mem_token_fn *fn, void *arg)
{
    return s_tokenize (text, len, fn, arg, true);
}

static unsigned
s_tokenize (const char *text, size_t len, mem_token_fn *fn, void *arg, bool raw)
{
    assert (text || len == 0);
    s_state_t self = {.fn = fn, .arg = arg, .letters_only = true, .raw = raw};
    const unsigned char *p = (const unsigned char *) text;
    const unsigned char *end = p + len;

    while (p < end) {
        unsigned char b = *p;
        if (b < 0x80) {
            unsigned char c = s_ascii[b];
            p++;
            if (c >= '0') {
                //  Fast path: a run of ASCII letters and digits
                self.in_word = true;
                self.apos = false;
                for (;;) {
                    if (c <= '9')
                        self.letters_only = false;
                    if (self.len < S_TERM_LIMIT && !self.cut)
                        self.buf[self.len++] = (char) c;
                    else
                        self.cut = true;
                    if (p == end || *p >= 0x80 || (c = s_ascii[*p]) < '0')
                        break;
                    p++;
                }
            }
            else if (c == S_APOS && self.in_word && !self.apos)
                self.apos = true;
            else if (self.in_word)
                s_end_word (&self);
            continue;
        }
        uint32_t cp;
        size_t n = s_decode (p, end, &cp);
        if (n == 0) {
            p++;                //  invalid byte: a separator
            if (self.in_word)
                s_end_word (&self);
            continue;
        }
        p += n;
        if (cp == 0x2019) {     //  right single quotation mark as apostrophe
            if (self.in_word && !self.apos)
                self.apos = true;
            else if (self.in_word)
                s_end_word (&self);
            continue;
        }
        if (s_is_separator (cp)) {
            if (self.in_word)
                s_end_word (&self);
            continue;
        }
        if (s_is_cjk (cp)) {
            if (self.in_word)
                s_end_word (&self);
            n = s_encode (cp, self.buf);
            s_emit (&self, n);
            self.position++;
            continue;
        }
        char bytes[4];
        cp = s_lower (cp);
        n = s_encode (cp, bytes);
        if (cp >= 0x80)
            self.letters_only = false;
        s_append (&self, bytes, n);
    }
    if (self.in_word)
        s_end_word (&self);
    return self.emitted;
}

//  --------------------------------------------------------------------------
//  Selftest

#define S_TEST_MAX 64
#define streq_(a, b) (strcmp ((a), (b)) == 0)

typedef struct {
    unsigned count;
    char terms[S_TEST_MAX][MEM_TERM_MAX];
    size_t lens[S_TEST_MAX];
    unsigned positions[S_TEST_MAX];
    bool verbose;
} s_collect_t;

static void
s_collect (const char *term, size_t len, unsigned position, void *arg)
{
    s_collect_t *c = (s_collect_t *) arg;
    assert (len < MEM_TERM_MAX);
    assert (term[len] == '\0' && strlen (term) == len);
    if (c->verbose)
        printf ("    [%u] '%s' (%zu)\n", position, term, len);
    assert (c->count < S_TEST_MAX);
    memcpy (c->terms[c->count], term, len + 1);
    c->lens[c->count] = len;
    c->positions[c->count] = position;
    c->count++;
}

//  Tokenizes text[0..len) and checks the terms against want (NULL-ended);
//  positions, when given, must match too.
static void
s_check_n (const char *text, size_t len, const char **want, const unsigned *positions,
           bool verbose)
{
    s_collect_t c = {.verbose = verbose};
    if (verbose)
        printf ("  \"%.*s\"\n", (int) len, text);
    unsigned n = mem_tokenize (text, len, s_collect, &c);
    assert (n == c.count);
    unsigned i = 0;
    for (; want[i]; i++) {
        assert (i < c.count);
        if (strcmp (c.terms[i], want[i]) != 0)
            printf ("  term %u: got '%s', want '%s'\n", i, c.terms[i], want[i]);
        assert (strcmp (c.terms[i], want[i]) == 0);
        if (positions)
            assert (c.positions[i] == positions[i]);
    }
    assert (i == c.count);
    //  Counting only (no callback) gives the same number
    assert (mem_tokenize (text, len, NULL, NULL) == n);
}

static void
s_check (const char *text, const char **want, bool verbose)
{
    s_check_n (text, strlen (text), want, NULL, verbose);
}

//  Tokenizes a copy of text in a heap block of exactly len bytes, so ASan
//  catches any read past the end; returns the number of terms.
static unsigned
s_tokenize_exact (const char *text, size_t len, s_collect_t *c)
{
    char *copy = (char *) malloc (len ? len : 1);
    assert (copy);
    memcpy (copy, text, len);
    unsigned n = mem_tokenize (copy, len, s_collect, c);
    free (copy);
    return n;
}

void
mem_tokenizer_test (bool verbose)
{
    printf (" * mem_tokenizer: ");
    if (verbose)
        printf ("\n");

    //  The stopword table is sorted and every entry is found
    for (size_t i = 0; i < S_STOPWORDS; i++) {
        assert (strlen (s_stopwords[i]) <= S_STOPWORD_MAX);
        if (i > 0)
            assert (strcmp (s_stopwords[i - 1], s_stopwords[i]) < 0);
        assert (mem_tokenizer_is_stopword (s_stopwords[i], strlen (s_stopwords[i])));
    }
    assert (mem_tokenizer_is_stopword ("the", 3));
    assert (mem_tokenizer_is_stopword ("thesis", 3));     //  only len bytes count
    assert (mem_tokenizer_is_stopword ("dont", 4));
    assert (mem_tokenizer_is_stopword ("a", 1));
    assert (!mem_tokenizer_is_stopword ("th", 2));
    assert (!mem_tokenizer_is_stopword ("thesis", 6));
    assert (!mem_tokenizer_is_stopword ("memory", 6));
    assert (!mem_tokenizer_is_stopword ("", 0));
    assert (!mem_tokenizer_is_stopword ("zzz", 3));
    assert (!mem_tokenizer_is_stopword ("themselvesx", 11));
    assert (!mem_tokenizer_is_stopword ("id", 2));

    //  Case, punctuation, stopwords, stemming, positions
    {
        const char *want[] = {"quick", "brown", "fox", "jump", NULL};
        const unsigned pos[] = {1, 2, 3, 4};
        const char *text = "The Quick brown foxes, jumping!";
        s_check_n (text, strlen (text), want, pos, verbose);
    }
    {
        const char *want[] = {"stop", NULL};
        const unsigned pos[] = {1};
        s_check_n ("don't stop", 10, want, pos, verbose);
    }
    {
        const char *want[] = {"memori", "carolin", "note", NULL};
        const unsigned pos[] = {2, 5, 8};
        const char *text = "it is memories of the caroline's a x notes";
        s_check_n (text, strlen (text), want, pos, verbose);
    }
    //  Apostrophes: joined inside a word, separators elsewhere
    s_check ("it\xe2\x80\x99s Caroline\xe2\x80\x99s",
             (const char *[]) {"carolin", NULL}, verbose);
    s_check ("'quoted' rock 'n' roll", (const char *[]) {"quot", "rock", "roll", NULL},
             verbose);
    s_check ("don''t won't", (const char *[]) {"don", NULL}, verbose);
    s_check ("ab'", (const char *[]) {"ab", NULL}, verbose);

    //  Single ASCII letters are dropped, single digits kept
    {
        const char *want[] = {"7", NULL};
        const unsigned pos[] = {4};
        s_check_n ("a b c x 7", 9, want, pos, verbose);
    }
    //  Digits: not stemmed
    s_check ("2023 gpt4 runs4 v2.0", (const char *[]) {"2023", "gpt4", "runs4", "v2", "0", NULL},
             verbose);

    //  Non-ASCII lowercasing; non-ASCII words are not stemmed
    s_check ("na\xc3\xafve caf\xc3\xa9 \xc3\x89""COLE",
             (const char *[]) {"na\xc3\xafve", "caf\xc3\xa9", "\xc3\xa9""cole", NULL}, verbose);
    s_check ("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\x9c\xd0\xb8\xd1\x80",
             (const char *[]) {"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
                               "\xd0\xbc\xd0\xb8\xd1\x80", NULL},
             verbose);
    //  Ѐ Ё Ж -> ѐ ё ж; Greek ΑΘΗΝΑ -> αθηνα, Σ -> σ
    s_check ("\xd0\x80\xd0\x81\xd0\x96 \xce\x91\xce\x98\xce\x97\xce\x9d\xce\x91 \xce\xa3\xce\xa9",
             (const char *[]) {"\xd1\x90\xd1\x91\xd0\xb6",
                               "\xce\xb1\xce\xb8\xce\xb7\xce\xbd\xce\xb1",
                               "\xcf\x83\xcf\x89", NULL},
             verbose);
    //  Latin Extended-A: Ā Ă Ą -> ā ă ą; Ĳ -> ĳ; Ĺ Ň -> ĺ ň; Ŋ Ŷ -> ŋ ŷ;
    //  Ÿ -> ÿ; Ź Ž -> ź ž; ı ĸ ŉ ſ stay; Œ -> œ
    s_check ("\xc4\x80\xc4\x82\xc4\x84 \xc4\xb2 \xc4\xb9\xc5\x87 \xc5\x8a\xc5\xb6 \xc5\xb8 "
             "\xc5\xb9\xc5\xbd \xc4\xb1\xc4\xb8\xc5\x89\xc5\xbf \xc5\x92",
             (const char *[]) {"\xc4\x81\xc4\x83\xc4\x85", "\xc4\xb3", "\xc4\xba\xc5\x88",
                               "\xc5\x8b\xc5\xb7", "\xc3\xbf", "\xc5\xba\xc5\xbe",
                               "\xc4\xb1\xc4\xb8\xc5\x89\xc5\xbf", "\xc5\x93", NULL},
             verbose);
    //  İ -> i: the word becomes pure ASCII and is stemmed like "istanbul"
    s_check ("\xc4\xb0STANBUL's", (const char *[]) {"istanbul", NULL}, verbose);
    //  × and ÷ separate; º ² µ are letters
    s_check ("3\xc3\x97""4 a\xc3\xb7z x\xc2\xb2 n\xc2\xba",
             (const char *[]) {"3", "4", "x\xc2\xb2", "n\xc2\xba", NULL}, verbose);

    //  Invalid UTF-8 separates and never crashes
    s_check ("abc\xff\xfe""def", (const char *[]) {"abc", "def", NULL}, verbose);
    s_check ("abc\xc0\xaf""def", (const char *[]) {"abc", "def", NULL}, verbose);    //  overlong
    s_check ("abc\xe0\x80\xaf""def", (const char *[]) {"abc", "def", NULL}, verbose);
    s_check ("abc\xed\xa0\x80""def", (const char *[]) {"abc", "def", NULL}, verbose); //  surrogate
    s_check ("abc\xf4\x90\x80\x80""def", (const char *[]) {"abc", "def", NULL}, verbose);
    s_check ("abc\xf5\x80\x80\x80""def", (const char *[]) {"abc", "def", NULL}, verbose);
    s_check ("abc\x80\xbf""def", (const char *[]) {"abc", "def", NULL}, verbose);
    s_check ("abc\xe2\x82""def", (const char *[]) {"abc", "def", NULL}, verbose);   //  short

    //  Truncated sequences at the end of an exactly sized buffer
    {
        const char *ends[] = {"abc \xe2\x82", "abc\xe2", "abc\xf0\x9f\x98", "abc\xc3",
                              "abc\xd0"};
        for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
            s_collect_t c = {.verbose = verbose};
            assert (s_tokenize_exact (ends[i], strlen (ends[i]), &c) == 1);
            assert (strcmp (c.terms[0], "abc") == 0);
        }
    }
    //  Not NUL-terminated: len is the limit
    s_check_n ("running dogs", 7, (const char *[]) {"run", NULL}, NULL, verbose);
    s_check_n ("caf\xc3\xa9", 4, (const char *[]) {"caf", NULL}, NULL, verbose);
    {
        s_collect_t c = {.verbose = verbose};
        assert (s_tokenize_exact ("hello world", 8, &c) == 2);
        assert (strcmp (c.terms[1], "wo") == 0);
    }

    //  Long words are cut at a code-point boundary, below MEM_TERM_MAX
    {
        char text[512];
        memset (text, 'a', 200);
        s_collect_t c = {.verbose = verbose};
        assert (mem_tokenize (text, 200, s_collect, &c) == 1);
        assert (c.lens[0] == MEM_TERM_MAX - 1);

        //  é is 2 bytes: 31 fit in 63 bytes
        for (size_t i = 0; i < 100; i++)
            memcpy (text + 2 * i, "\xc3\x89", 2);
        c.count = 0;
        assert (mem_tokenize (text, 200, s_collect, &c) == 1);
        assert (c.lens[0] == 62);
        for (size_t i = 0; i < 62; i += 2)
            assert (memcmp (c.terms[0] + i, "\xc3\xa9", 2) == 0);

        //  One ASCII byte first, then é: 1 + 2 * 31 = 63
        text[0] = 'x';
        for (size_t i = 0; i < 99; i++)
            memcpy (text + 1 + 2 * i, "\xc3\xa9", 2);
        c.count = 0;
        assert (mem_tokenize (text, 199, s_collect, &c) == 1);
        assert (c.lens[0] == 63);

        //  4-byte letters (U+10400): 15 fit (60 bytes); a shorter char after
        //  the cut does not sneak in
        size_t n = 0;
        for (size_t i = 0; i < 30; i++, n += 4)
            memcpy (text + n, "\xf0\x90\x90\x80", 4);
        text[n++] = 'b';
        text[n++] = ' ';
        text[n++] = 'o';
        text[n++] = 'k';
        c.count = 0;
        assert (mem_tokenize (text, n, s_collect, &c) == 2);
        assert (c.lens[0] == 60);
        assert (strcmp (c.terms[1], "ok") == 0);
        assert (c.positions[1] == 1);

        //  A cut ASCII word is not stemmed
        memset (text, 'x', 100);
        memcpy (text + 100, "ing", 3);
        c.count = 0;
        assert (mem_tokenize (text, 103, s_collect, &c) == 1);
        assert (c.lens[0] == MEM_TERM_MAX - 1);
    }

    //  CJK: one term per character, positions per character
    {
        const char *want[] = {"\xe8\xa8\x98", "\xe6\x86\xb6", "\xe3\x83\x87",
                              "\xe3\x83\xbc", "\xe3\x83\xa2", "\xe3\x83\xb3", NULL};
        const unsigned pos[] = {0, 1, 2, 3, 4, 5};
        const char *text = "\xe8\xa8\x98\xe6\x86\xb6\xe3\x83\x87\xe3\x83\xbc\xe3\x83\xa2"
                           "\xe3\x83\xb3";
        s_check_n (text, strlen (text), want, pos, verbose);
    }
    {
        //  "memd記憶、테스트": ASCII word, ideographs, CJK comma, Hangul
        const char *want[] = {"memd", "\xe8\xa8\x98", "\xe6\x86\xb6", "\xed\x85\x8c",
                              "\xec\x8a\xa4", "\xed\x8a\xb8", NULL};
        const unsigned pos[] = {0, 1, 2, 3, 4, 5};
        const char *text = "memd\xe8\xa8\x98\xe6\x86\xb6\xe3\x80\x81"
                           "\xed\x85\x8c\xec\x8a\xa4\xed\x8a\xb8";
        s_check_n (text, strlen (text), want, pos, verbose);
    }

    //  Emoji, variation selectors, ZWJ, punctuation, currency separate
    s_check ("hello\xf0\x9f\x98\x80world \xe2\x9d\xa4\xef\xb8\x8flove "
             "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x92\xbb" "dev "
             "a\xe2\x80\x94z cost\xe2\x82\xac" "5 \xef\xbb\xbf" "bom",
             (const char *[]) {"hello", "world", "love", "dev", "cost", "5", "bom", NULL},
             verbose);

    //  Nothing to emit
    assert (mem_tokenize ("", 0, s_collect, &(s_collect_t) {0}) == 0);
    assert (mem_tokenize (NULL, 0, s_collect, &(s_collect_t) {0}) == 0);
    assert (mem_tokenize (" ,.;!  \t\n", 9, s_collect, &(s_collect_t) {0}) == 0);
    assert (mem_tokenize ("the of and", 10, s_collect, &(s_collect_t) {0}) == 0);

    //  Every byte value, alone and after a word, at the very end of a buffer
    for (unsigned b = 0; b < 256; b++) {
        char text[4] = {'a', 'b', (char) b};
        s_collect_t c = {0};
        s_tokenize_exact (text + 2, 1, &c);
        s_tokenize_exact (text, 3, &c);
    }

    //  Raw: the same words, lowercased, none dropped or stemmed
    {
        s_collect_t c = {.verbose = verbose};
        const char *text = "The Storage's RUNNING a x";
        assert (mem_tokenize_raw (text, strlen (text), s_collect, &c) == 5);
        assert (streq_ (c.terms[0], "the") && streq_ (c.terms[1], "storages")
                && streq_ (c.terms[2], "running") && streq_ (c.terms[3], "a"));
        assert (c.positions[4] == 4);
    }
    printf ("OK\n");
}
