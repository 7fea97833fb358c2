/*  mem_stem — the Porter stemmer (M.F. Porter, "An algorithm for suffix
    stripping", Program 14(3), 1980), steps 1a to 5b, as published in the
    paper (not the later "Porter2"/Snowball English stemmer, and without the
    departures of the author's C release: "abli" -> "able", no "logi").

    The word is a lowercase ASCII string held in a caller's buffer; every
    rule only shortens the word (or replaces a suffix it has just removed),
    so stemming happens in place and the result is never longer. Words with
    characters other than 'a'..'z' are the caller's concern: mem_tokenizer
    only passes pure ASCII letter words.

    Terms used below, as in the paper: a consonant is a letter other than
    a, e, i, o, u, and other than a 'y' preceded by a consonant; the measure
    m of a stem is the number of vowel-run/consonant-run pairs in
    [C](VC)^m[V]; *v* = the stem has a vowel; *d = it ends in a double
    consonant; *o = it ends consonant-vowel-consonant, the last one not
    w, x or y. */
#include "mem_stem.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#undef NDEBUG
#include <assert.h>

//  The word being stemmed: b[0..k) is the current word; after a successful
//  s_ends, b[0..j) is the stem in front of the suffix that matched.
typedef struct {
    char *b;
    size_t k;                   //  current length of the word
    size_t j;                   //  length of the stem before the suffix
} s_word_t;

//  A suffix rule: replace suffix by repl when the stem passes the step's test.
typedef struct {
    const char *suffix;
    uint8_t slen;
    const char *repl;
    uint8_t rlen;
} s_rule_t;

#define S_RULE(suffix, repl) {suffix, sizeof (suffix) - 1, repl, sizeof (repl) - 1}

static inline bool
s_is_aeiou (char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

//  True if b[i] is a consonant. A 'y' is a consonant at the start of the
//  word or after a vowel, so along a run of y's the answer alternates; the
//  run is walked iteratively (no recursion on "yyyy…").
static bool
s_cons (const char *b, size_t i)
{
    if (b[i] != 'y')
        return !s_is_aeiou (b[i]);
    size_t r = i;               //  first 'y' of the run that ends at i
    while (r > 0 && b[r - 1] == 'y')
        r--;
    bool first_cons = r == 0 || s_is_aeiou (b[r - 1]);
    return ((i - r) & 1) ? !first_cons : first_cons;
}

//  The measure m of b[0..len).
static unsigned
s_measure (const char *b, size_t len)
{
    unsigned m = 0;
    bool prev_cons = true;      //  so a leading consonant run counts nothing
    for (size_t i = 0; i < len; i++) {
        bool cons = b[i] == 'y' ? (i == 0 || !prev_cons) : !s_is_aeiou (b[i]);
        if (cons && !prev_cons)
            m++;
        prev_cons = cons;
    }
    return m;
}

//  *v*: b[0..len) contains a vowel.
static bool
s_has_vowel (const char *b, size_t len)
{
    bool prev_cons = true;
    for (size_t i = 0; i < len; i++) {
        bool cons = b[i] == 'y' ? (i == 0 || !prev_cons) : !s_is_aeiou (b[i]);
        if (!cons)
            return true;
        prev_cons = cons;
    }
    return false;
}

//  *d: b[0..len) ends in a double consonant.
static bool
s_double_cons (const char *b, size_t len)
{
    return len >= 2 && b[len - 1] == b[len - 2] && s_cons (b, len - 1);
}

//  *o: b[0..len) ends consonant-vowel-consonant, the last not w, x or y.
static bool
s_cvc (const char *b, size_t len)
{
    if (len < 3)
        return false;
    char last = b[len - 1];
    if (last == 'w' || last == 'x' || last == 'y')
        return false;
    return s_cons (b, len - 1) && !s_cons (b, len - 2) && s_cons (b, len - 3);
}

//  True if the word ends with suffix; then sets j to the stem's length.
static bool
s_ends (s_word_t *w, const char *suffix, size_t slen)
{
    if (slen > w->k || w->b[w->k - 1] != suffix[slen - 1])
        return false;
    if (memcmp (w->b + w->k - slen, suffix, slen) != 0)
        return false;
    w->j = w->k - slen;
    return true;
}

//  Replaces the suffix after the stem b[0..j) by repl.
static void
s_set (s_word_t *w, const char *repl, size_t rlen)
{
    memcpy (w->b + w->j, repl, rlen);
    w->k = w->j + rlen;
}

//  Finds the longest rule whose suffix ends the word (tables list a longer
//  suffix before any suffix it contains) and applies it if the stem's
//  measure exceeds min_m. Only that rule is tried, as in the paper.
static void
s_apply_rules (s_word_t *w, const s_rule_t *rules, size_t count, unsigned min_m)
{
    for (size_t i = 0; i < count; i++) {
        if (s_ends (w, rules[i].suffix, rules[i].slen)) {
            if (s_measure (w->b, w->j) > min_m)
                s_set (w, rules[i].repl, rules[i].rlen);
            return;
        }
    }
}

//  Step 1a: plurals. sses -> ss, ies -> i, ss -> ss, s -> "".
static void
s_step1a (s_word_t *w)
{
    if (w->b[w->k - 1] != 's')
        return;
    if (s_ends (w, "sses", 4))
        w->k -= 2;
    else if (s_ends (w, "ies", 3))
        s_set (w, "i", 1);
    else if (w->b[w->k - 2] != 's')
        w->k--;
}

//  Step 1b: past tenses and gerunds. (m>0) eed -> ee; (*v*) ed, ing -> "",
//  then tidy the stem: at, bl, iz get an e back, a double consonant other
//  than l, s, z is undoubled, and a short cvc stem gets an e.
static void
s_step1b (s_word_t *w)
{
    if (s_ends (w, "eed", 3)) {
        if (s_measure (w->b, w->j) > 0)
            w->k--;
        return;
    }
    if (!(s_ends (w, "ed", 2) || s_ends (w, "ing", 3)) || !s_has_vowel (w->b, w->j))
        return;
    w->k = w->j;
    if (s_ends (w, "at", 2) || s_ends (w, "bl", 2) || s_ends (w, "iz", 2)) {
        w->b[w->k++] = 'e';     //  fits: "ed"/"ing" just freed the room
        return;
    }
    char last = w->b[w->k - 1];
    if (s_double_cons (w->b, w->k)) {
        if (last != 'l' && last != 's' && last != 'z')
            w->k--;
    }
    else if (s_measure (w->b, w->k) == 1 && s_cvc (w->b, w->k))
        w->b[w->k++] = 'e';
}

//  Step 1c: (*v*) y -> i.
static void
s_step1c (s_word_t *w)
{
    if (w->b[w->k - 1] == 'y' && s_has_vowel (w->b, w->k - 1))
        w->b[w->k - 1] = 'i';
}

//  Step 2: double suffixes to single ones, for stems with m > 0.
static void
s_step2 (s_word_t *w)
{
    static const s_rule_t rules[] = {
        S_RULE ("ational", "ate"), S_RULE ("tional", "tion"), S_RULE ("enci", "ence"),
        S_RULE ("anci", "ance"),   S_RULE ("izer", "ize"),    S_RULE ("abli", "able"),
        S_RULE ("alli", "al"),     S_RULE ("entli", "ent"),   S_RULE ("eli", "e"),
        S_RULE ("ousli", "ous"),   S_RULE ("ization", "ize"), S_RULE ("ation", "ate"),
        S_RULE ("ator", "ate"),    S_RULE ("alism", "al"),    S_RULE ("iveness", "ive"),
        S_RULE ("fulness", "ful"), S_RULE ("ousness", "ous"), S_RULE ("aliti", "al"),
        S_RULE ("iviti", "ive"),   S_RULE ("biliti", "ble"),
    };
    s_apply_rules (w, rules, sizeof rules / sizeof rules[0], 0);
}

//  Step 3: -ic-, -full, -ness etc., for stems with m > 0.
static void
s_step3 (s_word_t *w)
{
    static const s_rule_t rules[] = {
        S_RULE ("icate", "ic"), S_RULE ("ative", ""), S_RULE ("alize", "al"),
        S_RULE ("iciti", "ic"), S_RULE ("ical", "ic"), S_RULE ("ful", ""),
        S_RULE ("ness", ""),
    };
    s_apply_rules (w, rules, sizeof rules / sizeof rules[0], 0);
}

//  Step 4: removes a last suffix from stems with m > 1; "ion" only after
//  s or t.
static void
s_step4 (s_word_t *w)
{
    static const s_rule_t rules[] = {
        S_RULE ("al", ""),    S_RULE ("ance", ""), S_RULE ("ence", ""), S_RULE ("er", ""),
        S_RULE ("ic", ""),    S_RULE ("able", ""), S_RULE ("ible", ""), S_RULE ("ant", ""),
        S_RULE ("ement", ""), S_RULE ("ment", ""), S_RULE ("ent", ""),  S_RULE ("ou", ""),
        S_RULE ("ism", ""),   S_RULE ("ate", ""),  S_RULE ("iti", ""),  S_RULE ("ous", ""),
        S_RULE ("ive", ""),   S_RULE ("ize", ""),
    };
    if (s_ends (w, "ion", 3)) {
        if (w->j > 0 && (w->b[w->j - 1] == 's' || w->b[w->j - 1] == 't')
            && s_measure (w->b, w->j) > 1)
            w->k = w->j;
        return;
    }
    s_apply_rules (w, rules, sizeof rules / sizeof rules[0], 1);
}

//  Step 5: (m>1) e -> "", (m=1 and not *o) e -> ""; (m>1 and *d and *L)
//  drops one l.
static void
s_step5 (s_word_t *w)
{
    if (w->b[w->k - 1] == 'e') {
        unsigned m = s_measure (w->b, w->k - 1);
        if (m > 1 || (m == 1 && !s_cvc (w->b, w->k - 1)))
            w->k--;
    }
    if (w->k >= 2 && w->b[w->k - 1] == 'l' && s_double_cons (w->b, w->k)
        && s_measure (w->b, w->k) > 1)
        w->k--;
}

size_t
mem_stem (char *word, size_t len)
{
    assert (word || len == 0);
    if (len <= 2)
        return len;
    s_word_t w = {word, len, 0};
    s_step1a (&w);
    s_step1b (&w);
    if (w.k <= 1)               //  e.g. "ies" -> "i": nothing left to strip
        return w.k;
    s_step1c (&w);
    s_step2 (&w);
    s_step3 (&w);
    s_step4 (&w);
    if (w.k > 0)
        s_step5 (&w);
    return w.k;
}

//  Stems word and checks the result.
static void
s_check (const char *word, const char *expected, bool verbose)
{
    char buf[64];
    size_t len = strlen (word);
    assert (len < sizeof buf);
    memcpy (buf, word, len);
    buf[len] = '#';             //  stemming must not look past len
    size_t n = mem_stem (buf, len);
    if (verbose || n != strlen (expected) || memcmp (buf, expected, n) != 0)
        printf ("  %s -> %.*s (want %s)\n", word, (int) n, buf, expected);
    assert (n <= len);
    assert (n == strlen (expected) && memcmp (buf, expected, n) == 0);
}

void
mem_stem_test (bool verbose)
{
    printf (" * mem_stem: ");
    if (verbose)
        printf ("\n");

    //  The examples of Porter's paper, step by step, plus whole-word cases
    static const char *cases[][2] = {
        //  Step 1a
        {"caresses", "caress"}, {"ponies", "poni"}, {"ties", "ti"},
        {"caress", "caress"}, {"cats", "cat"},
        //  Step 1b
        {"feed", "feed"}, {"agreed", "agre"}, {"plastered", "plaster"},
        {"bled", "bled"}, {"motoring", "motor"}, {"sing", "sing"},
        {"conflated", "conflat"}, {"troubled", "troubl"}, {"sized", "size"},
        {"hopping", "hop"}, {"tanned", "tan"}, {"falling", "fall"},
        {"hissing", "hiss"}, {"fizzed", "fizz"}, {"failing", "fail"},
        {"filing", "file"},
        //  Step 1c
        {"happy", "happi"}, {"sky", "sky"},
        //  Step 2
        {"relational", "relat"}, {"conditional", "condit"}, {"rational", "ration"},
        {"valenci", "valenc"}, {"hesitanci", "hesit"}, {"digitizer", "digit"},
        {"conformabli", "conform"}, {"radicalli", "radic"}, {"differentli", "differ"},
        {"vileli", "vile"}, {"analogousli", "analog"}, {"vietnamization", "vietnam"},
        {"predication", "predic"}, {"operator", "oper"}, {"feudalism", "feudal"},
        {"decisiveness", "decis"}, {"hopefulness", "hope"}, {"callousness", "callous"},
        {"formaliti", "formal"}, {"sensitiviti", "sensit"}, {"sensibiliti", "sensibl"},
        //  Step 3
        {"triplicate", "triplic"}, {"formative", "form"}, {"formalize", "formal"},
        {"electriciti", "electr"}, {"electrical", "electr"}, {"hopeful", "hope"},
        {"goodness", "good"},
        //  Step 4
        {"revival", "reviv"}, {"allowance", "allow"}, {"inference", "infer"},
        {"airliner", "airlin"}, {"gyroscopic", "gyroscop"}, {"adjustable", "adjust"},
        {"defensible", "defens"}, {"irritant", "irrit"}, {"replacement", "replac"},
        {"adjustment", "adjust"}, {"dependent", "depend"}, {"adoption", "adopt"},
        {"homologou", "homolog"}, {"communism", "commun"}, {"activate", "activ"},
        {"angulariti", "angular"}, {"homologous", "homolog"}, {"effective", "effect"},
        {"bowdlerize", "bowdler"},
        //  Step 5
        {"probate", "probat"}, {"rate", "rate"}, {"cease", "ceas"},
        {"controll", "control"}, {"roll", "roll"},
        //  Whole words, several steps
        {"generalizations", "gener"}, {"running", "run"}, {"runs", "run"},
        {"oscillators", "oscil"}, {"connection", "connect"}, {"connections", "connect"},
        {"connected", "connect"}, {"connecting", "connect"}, {"stemming", "stem"},
        {"caroline", "carolin"}, {"carolines", "carolin"}, {"memories", "memori"},
        {"memory", "memori"}, {"foxes", "fox"}, {"jumping", "jump"},
        //  The y rules: consonant at the start and after a vowel
        {"yelling", "yell"}, {"toy", "toi"}, {"says", "sai"}, {"syzygy", "syzygi"},
        {"yyyyyy", "yyyyyi"},
        //  Edge cases: short words, words that stem to almost nothing
        {"a", "a"}, {"is", "is"}, {"as", "as"}, {"ies", "i"}, {"sss", "sss"},
        {"ing", "ing"}, {"eed", "eed"}, {"ed", "ed"}, {"ss", "ss"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_check (cases[i][0], cases[i][1], verbose);

    //  NULL with length 0 is fine
    assert (mem_stem (NULL, 0) == 0);
    printf ("OK\n");
}
