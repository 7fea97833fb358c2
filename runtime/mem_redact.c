/*  mem_redact — secret redaction at capture; see mem_redact.h.

    Each pattern is its own compiled (and JIT-compiled) PCRE2 program, and
    the patterns run one after the other, each over the previous one's
    output, in this order:

    1. s_formats: credentials with a recognisable shape (prefix, length,
       armour), named after what they are; the ones that swallow the most
       (key blocks, <private> spans) first, and the more specific before
       the more general (sk-ant- before sk-).
    2. s_assignments: values that are secret because of what names them
       (password=, "token": …, Authorization: …, a URL's password). Their
       values skip placeholders, so `token=ghp_…` stays github_token.
    3. the extra patterns of redact/patterns, in file order.

    One program per pattern rather than one alternation of them all: PCRE2
    then knows each pattern's first and required characters and rejects
    most texts with a memchr, which made capture of short texts several
    times cheaper than one big alternation.
*/
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "mem_redact.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME_MAX        32                //  bytes of a pattern name
#define S_MAX_PATTERNS    1000              //  extra patterns in one file
#define S_MAX_FILE_BYTES  (1u << 20)        //  size of a patterns file
#define S_MATCH_LIMIT     10000000          //  pcre2 match limit per match call
#define S_JIT_STACK_MAX   (8u << 20)        //  JIT stack when the default 32 KiB is not enough
#define S_COMPILE_OPTIONS (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C)
#define S_UNSCANNED       "[REDACTED:unscanned]"

typedef struct {
    const char *name;
    const char *regex;
} s_pattern_t;

//  Secrets with a shape of their own.
static const s_pattern_t s_formats[] = {
    {"private_key", "-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
                    "(?:[\\s\\S]*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|[\\s\\S]*)"},
    {"private", "(?i:<private>)(?:[\\s\\S]*?(?i:</private>)|[\\s\\S]*)"},
    {"aws_access_key", "\\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"},
    {"aws_secret_key", "(?i:aws_?secret_?(?:access_?)?key)[\"']?[ \\t]*[:=][ \\t]*[\"']?"
                       "([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"},
    {"github_token", "\\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
                     "(?![A-Za-z0-9_])"},
    {"gitlab_token", "\\bglpat-[A-Za-z0-9_-]{20,}"},
    {"slack_token", "\\bxox[baprs]-[A-Za-z0-9-]{10,}"},
    {"npm_token", "\\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"},
    {"anthropic_key", "\\bsk-ant-[A-Za-z0-9_-]{20,}"},
    {"openai_key", "\\bsk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}"},
    {"stripe_key", "\\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"},
    {"google_api_key", "\\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"},
    {"jwt", "\\beyJ[A-Za-z0-9_-]{5,}\\.eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]*"},
};

//  A value that is not already a placeholder: quoted (any characters up
//  to the quote) or bare (three or more characters up to a space, quote,
//  comma or semicolon).
#define S_VALUE                                                                              \
    "(?!\\[REDACTED:)(?:\"(?!\\[REDACTED:)([^\"\\r\\n]+)\"|'(?!\\[REDACTED:)([^'\\r\\n]+)'"  \
    "|([^\\s\"'`,;]{3,}))"
#define S_KEYWORDS                                                                           \
    "(?i:password|passwd|secret(?:[_-]?key)?|token|api[_-]?key|apikey|access[_-]?key"        \
    "|private[_-]?key|client[_-]?secret|credentials?)[\"']?[ \\t]*"

//  Secrets because of what names them; the name is kept. The = and :
//  forms are two patterns so that each has a character PCRE2 can look for
//  before it tries anything.
static const s_pattern_t s_assignments[] = {
    {"secret", S_KEYWORDS "=[ \\t]*" S_VALUE},
    {"secret", S_KEYWORDS ":[ \\t]*" S_VALUE},
    {"secret", "(?i:--(?:password|passwd|secret|token|api-key))(?:[ \\t]+|=)" S_VALUE},
    {"auth_header", "(?i:authorization)[\"']?[ \\t]*[:=][ \\t]*[\"']?"
                    "(?i:(?:bearer|basic|token|digest)[ \\t]+)?(?!\\[REDACTED:)"
                    "(?=[^\\s\"']*[0-9+/=_-])([^\\s\"']{8,})"},
    {"bearer_token", "(?i:\\bbearer)[ \\t]+(?!\\[REDACTED:)([A-Za-z0-9._~+/-]{20,}=*)"},
    {"url_password", "://[^\\s:/@]+:(?!\\[REDACTED:)([^\\s:/@]+)@"},
};

#define S_COUNT(array) (sizeof (array) / sizeof ((array)[0]))

typedef struct {
    pcre2_code *code;
    char name[S_NAME_MAX + 1];
    uint32_t groups;             //  capturing groups; the first set one is the secret
} s_unit_t;

struct _mem_redact_t {
    s_unit_t *units;
    size_t n_units;
    uint32_t max_groups;         //  over all units: sizes the match data
    pcre2_match_context *match;  //  limits; read-only once built, shared by every thread
    uint32_t match_options;      //  PCRE2_NO_JIT with redact/jit = 0
};

//  Output text being built.
typedef struct {
    char *data;
    size_t len, size;
} s_buf_t;

static int
s_buf_add (s_buf_t *buf, const char *data, size_t len)
{
    if (buf->len + len + 1 > buf->size) {
        size_t size = buf->size ? buf->size : 256;
        while (size < buf->len + len + 1)
            size *= 2;
        char *grown = realloc (buf->data, size);
        if (!grown)
            return -1;
        buf->data = grown;
        buf->size = size;
    }
    memcpy (buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = 0;
    return 0;
}

//  --------------------------------------------------------------------------
//  Building

//  Compiles one pattern into a new unit. -1 with err (not naming it).
static int
s_add_unit (mem_redact_t *self, const s_pattern_t *pattern, char *err, size_t err_size)
{
    s_unit_t *units = realloc (self->units, (self->n_units + 1) * sizeof *units);
    if (!units) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    self->units = units;
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile ((PCRE2_SPTR) pattern->regex, PCRE2_ZERO_TERMINATED,
                                    S_COMPILE_OPTIONS, &code, &offset, NULL);
    if (!re) {
        PCRE2_UCHAR why[256];
        pcre2_get_error_message (code, why, sizeof why);
        snprintf (err, err_size, "%s at offset %zu", (char *) why, (size_t) offset);
        return -1;
    }
    uint32_t groups = 0, min_length = 0;
    pcre2_pattern_info (re, PCRE2_INFO_CAPTURECOUNT, &groups);
    pcre2_pattern_info (re, PCRE2_INFO_MINLENGTH, &min_length);
    if (min_length == 0) {
        pcre2_code_free (re);
        snprintf (err, err_size, "it can match an empty text");
        return -1;
    }
    //  JIT is an optimisation: without it the interpreter matches the same.
    pcre2_jit_compile (re, PCRE2_JIT_COMPLETE);
    s_unit_t *unit = &units[self->n_units++];
    unit->code = re;
    unit->groups = groups;
    snprintf (unit->name, sizeof unit->name, "%s", pattern->name);
    if (groups > self->max_groups)
        self->max_groups = groups;
    return 0;
}

//  True for a pattern name: 1-32 of [a-z0-9_].
static bool
s_name_valid (const char *name, size_t len)
{
    if (len == 0 || len > S_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(islower ((unsigned char) name[i]) || isdigit ((unsigned char) name[i])
              || name[i] == '_'))
            return false;
    return true;
}

//  Reads the extra patterns of path, one unit each.
static int
s_load_file (mem_redact_t *self, const char *path, char *err, size_t err_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (err, err_size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    char *line = NULL;
    size_t size = 0, bytes = 0, patterns = 0;
    ssize_t got;
    int rc = 0;
    for (size_t number = 1; !rc && (got = getline (&line, &size, file)) >= 0; number++) {
        bytes += (size_t) got;
        size_t len = (size_t) got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        size_t skip = strspn (line, " \t");
        if (line[skip] == 0 || line[skip] == '#')
            continue;
        char *tab = strchr (line, '\t');
        char why[400], problem[300];
        s_pattern_t pattern = {line, tab ? tab + 1 : ""};
        if (bytes > S_MAX_FILE_BYTES)
            snprintf (why, sizeof why, "the file is over %u bytes", S_MAX_FILE_BYTES);
        else if (++patterns > S_MAX_PATTERNS)
            snprintf (why, sizeof why, "more than %d patterns", S_MAX_PATTERNS);
        else if (!tab)
            snprintf (why, sizeof why, "expected NAME<TAB>REGEX");
        else if (!s_name_valid (line, (size_t) (tab - line)))
            snprintf (why, sizeof why, "the name '%.*s' is not 1-%d of a-z 0-9 _",
                      (int) (tab - line) > 40 ? 40 : (int) (tab - line), line, S_NAME_MAX);
        else if (!*pattern.regex)
            snprintf (why, sizeof why, "the regex is empty");
        else {
            *tab = 0;
            if (s_add_unit (self, &pattern, problem, sizeof problem) == 0)
                continue;
            snprintf (why, sizeof why, "pattern '%s': %s", line, problem);
        }
        snprintf (err, err_size, "%s:%zu: %s", path, number, why);
        rc = -1;
    }
    if (!rc && ferror (file)) {
        snprintf (err, err_size, "cannot read %s: %s", path, strerror (errno));
        rc = -1;
    }
    free (line);
    fclose (file);
    return rc;
}

//  Adds the built-in patterns of a table. A failure here is a bug of ours.
static int
s_add_builtin (mem_redact_t *self, const s_pattern_t *patterns, size_t n, char *err,
               size_t err_size)
{
    for (size_t i = 0; i < n; i++) {
        char why[300];
        if (s_add_unit (self, &patterns[i], why, sizeof why)) {
            snprintf (err, err_size, "built-in pattern '%s': %s", patterns[i].name, why);
            return -1;
        }
    }
    return 0;
}

mem_redact_t *
mem_redact_new (const char *patterns_path, char *err, size_t err_size)
{
    mem_redact_t *self = calloc (1, sizeof *self);
    if (!self || !(self->match = pcre2_match_context_create (NULL))) {
        snprintf (err, err_size, "out of memory");
        mem_redact_destroy (&self);
        return NULL;
    }
    pcre2_set_match_limit (self->match, S_MATCH_LIMIT);
    if (s_add_builtin (self, s_formats, S_COUNT (s_formats), err, err_size)
        || s_add_builtin (self, s_assignments, S_COUNT (s_assignments), err, err_size)
        || (patterns_path && s_load_file (self, patterns_path, err, err_size)))
        mem_redact_destroy (&self);
    return self;
}

mem_redact_t *
mem_redact_from_config (mem_config_t *config, char *err, size_t err_size)
{
    if (!mem_config_int (config, "redact/enabled")) {
        mem_redact_t *self = calloc (1, sizeof *self);   //  no units: changes nothing
        if (!self)
            snprintf (err, err_size, "out of memory");
        return self;
    }
    const char *path = mem_config_get (config, "redact/patterns");
    char why[1024];
    mem_redact_t *self = mem_redact_new (strcmp (path, "none") ? path : NULL, why, sizeof why);
    if (!self)
        snprintf (err, err_size, "redact/patterns: %s", why);
    else if (!mem_config_int (config, "redact/jit"))
        self->match_options = PCRE2_NO_JIT;
    return self;
}

void
mem_redact_destroy (mem_redact_t **self_p)
{
    mem_redact_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_units; i++)
        pcre2_code_free (self->units[i].code);
    free (self->units);
    pcre2_match_context_free (self->match);
    free (self);
    *self_p = NULL;
}

size_t
mem_redact_patterns (mem_redact_t *self)
{
    return self ? self->n_units : 0;
}

//  --------------------------------------------------------------------------
//  Matching

//  Scans subject[0..len) with one unit, writing the redacted text to out
//  when something matched. md has room for every unit's groups. Returns
//  the count, or -1 if the scan failed.
static int
s_unit_apply (const mem_redact_t *self, const s_unit_t *unit, pcre2_match_data *md,
              const char *subject, size_t len, s_buf_t *out)
{
    pcre2_match_context *match = self->match;
    pcre2_jit_stack *stack = NULL;
    PCRE2_SIZE offset = 0, copied = 0;
    int count = 0;
    while (offset <= len) {
        int rc = pcre2_match (unit->code, (PCRE2_SPTR) subject, len, offset,
                              self->match_options, md, match);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !stack) {
            //  A deep match: once more with a bigger stack of this call's own.
            stack = pcre2_jit_stack_create (32 * 1024, S_JIT_STACK_MAX, NULL);
            match = stack ? pcre2_match_context_copy (self->match) : NULL;
            if (!match) {
                match = self->match;
                count = -1;
                break;
            }
            pcre2_jit_stack_assign (match, NULL, stack);
            continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc <= 0) {   //  0: the match data is too small, which is a bug of ours
            count = -1;
            break;
        }
        //  The secret: the first group that took part, else the whole match.
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer (md);
        PCRE2_SIZE start = ov[0], end = ov[1];
        for (int g = 1; g < rc; g++)
            if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g]) {
                start = ov[2 * g];
                end = ov[2 * g + 1];
                break;
            }
        if (end > start && start >= copied) {
            if (s_buf_add (out, subject + copied, start - copied)
                || s_buf_add (out, "[REDACTED:", 10)
                || s_buf_add (out, unit->name, strlen (unit->name)) || s_buf_add (out, "]", 1)) {
                count = -1;
                break;
            }
            copied = end;
            count++;
        }
        //  Go on after the match; after an empty one, at the next character.
        PCRE2_SIZE next = ov[1];
        if (next <= ov[0]) {
            next = ov[0] + 1;
            while (next < len && ((unsigned char) subject[next] & 0xc0) == 0x80)
                next++;
        }
        offset = next;
    }
    if (count > 0 && s_buf_add (out, subject + copied, len - copied))
        count = -1;
    if (match != self->match)
        pcre2_match_context_free (match);
    pcre2_jit_stack_free (stack);
    return count;
}

//  mem_redact_text with the caller's match data.
static char *
s_redact_text (mem_redact_t *self, pcre2_match_data *md, const char *text, size_t len,
               size_t *count)
{
    *count = 0;
    char *current = NULL;        //  the latest redacted text, if any
    const char *subject = text;
    for (size_t i = 0; i < self->n_units; i++) {
        s_buf_t out = {0};
        int n = md ? s_unit_apply (self, &self->units[i], md, subject, len, &out) : -1;
        if (n < 0) {
            //  Fail closed: what could not be scanned is not kept.
            free (out.data);
            free (current);
            *count = 1;
            return strdup (S_UNSCANNED);
        }
        if (n > 0) {
            free (current);
            current = out.data;
            subject = current;
            len = out.len;
            *count += (size_t) n;
        }
        else
            free (out.data);
    }
    return current;
}

char *
mem_redact_text (mem_redact_t *self, const char *text, size_t len, size_t *count)
{
    *count = 0;
    if (!self || self->n_units == 0)
        return NULL;
    pcre2_match_data *md = pcre2_match_data_create (self->max_groups + 1, NULL);
    char *result = s_redact_text (self, md, text, len, count);
    pcre2_match_data_free (md);
    return result;
}

//  Redacts one heap string in place; adds to *total. 0 or -1.
static int
s_redact_string (mem_redact_t *self, pcre2_match_data *md, char **text, size_t *total)
{
    if (!*text || !**text)
        return 0;
    size_t n;
    char *clean = s_redact_text (self, md, *text, strlen (*text), &n);
    if (n && !clean)
        return -1;
    if (clean) {
        free (*text);
        *text = clean;
    }
    *total += n;
    return 0;
}

int
mem_redact_record (mem_redact_t *self, Memd__V1__Record *record)
{
    if (!self || self->n_units == 0 || !record)
        return 0;
    size_t total = 0;
    pcre2_match_data *md = pcre2_match_data_create (self->max_groups + 1, NULL);
    int rc = s_redact_string (self, md, &record->text, &total);
    for (size_t i = 0; i < record->n_metadata && !rc; i++)
        rc = s_redact_string (self, md, &record->metadata[i]->value, &total);
    pcre2_match_data_free (md);
    if (rc)
        return -1;
    if (total == 0)
        return 0;

    char digits[24];
    snprintf (digits, sizeof digits, "%zu", total);
    char *value = strdup (digits);
    if (!value)
        return -1;
    for (size_t i = 0; i < record->n_metadata; i++) {
        Memd__V1__Record__MetadataEntry *entry = record->metadata[i];
        if (entry->key && strcmp (entry->key, MEM_REDACT_COUNT_KEY) == 0) {
            if (entry->value && *entry->value)
                free (entry->value);
            entry->value = value;
            return total > INT_MAX ? INT_MAX : (int) total;
        }
    }
    Memd__V1__Record__MetadataEntry *entry = malloc (sizeof *entry);
    Memd__V1__Record__MetadataEntry **entries
        = realloc (record->metadata, (record->n_metadata + 1) * sizeof *entries);
    char *key = strdup (MEM_REDACT_COUNT_KEY);
    if (entries)
        record->metadata = entries;
    if (!entry || !entries || !key) {
        free (entry);
        free (key);
        free (value);
        return -1;
    }
    memd__v1__record__metadata_entry__init (entry);
    entry->key = key;
    entry->value = value;
    record->metadata[record->n_metadata++] = entry;
    return total > INT_MAX ? INT_MAX : (int) total;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>
#include <time.h>
#include <unistd.h>

//  Redacts text and checks the result and count.
static void
s_expect (mem_redact_t *self, const char *text, const char *want, size_t want_count)
{
    size_t count;
    char *got = mem_redact_text (self, text, strlen (text), &count);
    const char *result = got ? got : text;
    if (count != want_count || strcmp (result, want) != 0) {
        fprintf (stderr,
                 "\nredact: input  '%s'\n        got    '%s' (%zu)\n"
                 "        wanted '%s' (%zu)\n",
                 text, result, count, want, want_count);
        assert (false);
    }
    assert ((got != NULL) == (count > 0));
    free (got);
}

//  A text that must come through unchanged.
static void
s_keep (mem_redact_t *self, const char *text)
{
    s_expect (self, text, text, 0);
}

void
mem_redact_test (bool verbose)
{
    printf (" * mem_redact: ");
    char err[1024];
    mem_redact_t *self = mem_redact_new (NULL, err, sizeof err);
    assert (self);
    assert (mem_redact_patterns (self) == S_COUNT (s_formats) + S_COUNT (s_assignments));

    //  Test secrets are built from pieces so that no scanner takes this
    //  file for a leak.
    const char *a36 = "abcdefghijklmnopqrstuvwxyz0123456789";   //  36 characters

    //  AWS
    s_expect (self, "key AKIA" "IOSFODNN7EXAMPLE here", "key [REDACTED:aws_access_key] here", 1);
    s_keep (self, "AKIAshort and AKIA" "IOSFODNN7EXAMPLEX1");   //  too short, too long
    s_expect (self, "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
              "aws_secret_access_key = [REDACTED:aws_secret_key]", 1);
    s_keep (self, "aws_secret_access_key is set in CI");
    s_expect (self, "aws_secret_key = tooShort/123", "aws_secret_key = [REDACTED:secret]", 1);
    s_expect (self, "AWS_SECRET_ACCESS_KEY=\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
              "AWS_SECRET_ACCESS_KEY=\"[REDACTED:aws_secret_key]\"", 1);

    //  GitHub, GitLab, Slack, npm
    char text[512], want[512];
    snprintf (text, sizeof text, "push with gh" "p_%s now", a36);
    s_expect (self, text, "push with [REDACTED:github_token] now", 1);
    snprintf (text, sizeof text, "gh" "o_%s", a36);
    s_expect (self, text, "[REDACTED:github_token]", 1);
    s_expect (self, "github_" "pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
              "[REDACTED:github_token]", 1);
    s_keep (self, "ghp_tooshort and ghx_abcdefghijklmnopqrstuvwxyz0123456789");
    s_expect (self, "glpat-" "xxxxXXXX1234_-abcdEFGH", "[REDACTED:gitlab_token]", 1);
    s_keep (self, "glpat-short");
    s_expect (self, "slack xox" "b-123456789012-abcdefABCDEF done",
              "slack [REDACTED:slack_token] done",
              1);
    s_keep (self, "xoxz-123456789012 and xoxb-12");
    snprintf (text, sizeof text, "//registry.npmjs.org/:_authToken=np" "m_%s", a36);
    s_expect (self, text, "//registry.npmjs.org/:_authToken=[REDACTED:npm_token]", 1);
    s_keep (self, "npm_config_cache and npm_install");

    //  OpenAI, Anthropic, Stripe, Google
    s_expect (self, "OPENAI_API_KEY: sk" "-proj-Ab3dEfGhIjKlMnOpQrStUvWx",
              "OPENAI_API_KEY: [REDACTED:openai_key]", 1);
    s_expect (self, "key sk" "-4f9aB2cD3eF4gH5iJ6kL7mN8 ok", "key [REDACTED:openai_key] ok", 1);
    s_expect (self, "use sk" "-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345",
              "use [REDACTED:anthropic_key]", 1);
    s_keep (self, "sk-ant-short; sk_live_short; risk_test_abcdefghijklmnopqrstuv; "
                  "rk_prod_abcdefghijklmnopqrstuv");
    s_keep (self, "sk-learn is a library; task-management-system-overview-document; "
                  "sk-abcdefghijklmnopqrstuvwxyz has no digit");
    s_expect (self, "stripe sk" "_live_4eC39HqLyjWDarjtT1zdp7dc",
              "stripe [REDACTED:stripe_key]", 1);
    s_expect (self, "maps AIza" "SyA-1234567890abcdefghijklmnopqrstu.",
              "maps [REDACTED:google_api_key].", 1);
    s_keep (self, "AIzaShort and AIzaSyA-1234567890abcdefghijklmnopqrstuvwxyz");

    //  Private key blocks, closed or cut off
    s_expect (self,
              "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc+/=\n"
              "-----END RSA PRIVATE KEY-----\nafter",
              "before\n[REDACTED:private_key]\nafter", 1);
    s_expect (self, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n(truncated",
              "[REDACTED:private_key]", 1);
    s_expect (self,
              "-----BEGIN PGP PRIVATE KEY BLOCK-----\nx\n-----END PGP PRIVATE KEY BLOCK-----",
              "[REDACTED:private_key]", 1);
    s_keep (self, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
                  "-----BEGIN PUBLIC KEY-----");

    //  JWT
    s_expect (self,
              "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
              ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9",
              "jwt [REDACTED:jwt]", 1);
    s_keep (self, "eyJ alone, eyJabc.def and eyJhbGciOiJIUzI1NiJ9 without a payload");

    //  Assignments keep their names
    s_expect (self, "password=hunter2", "password=[REDACTED:secret]", 1);
    s_expect (self, "SECRET_KEY=django-insecure-x9", "SECRET_KEY=[REDACTED:secret]", 1);
    s_expect (self, "DB_PASSWORD = 'correct horse battery'",
              "DB_PASSWORD = '[REDACTED:secret]'", 1);
    s_expect (self, "{\"api_key\": \"abc123def\", \"user\": \"ann\"}",
              "{\"api_key\": \"[REDACTED:secret]\", \"user\": \"ann\"}", 1);
    s_expect (self, "secret: s3cr3t-value\nnext: line",
              "secret: [REDACTED:secret]\nnext: line", 1);
    s_expect (self, "mysql --password hunter22 -u root",
              "mysql --password [REDACTED:secret] -u root",
              1);
    s_expect (self, "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
              "Authorization: Bearer [REDACTED:auth_header]", 1);
    s_expect (self, "curl -H 'authorization: Basic dXNlcjpwYXNzd29yZA=='",
              "curl -H 'authorization: Basic [REDACTED:auth_header]'", 1);
    s_expect (self, "send bearer abcdefghij0123456789abcd", "send bearer [REDACTED:bearer_token]",
              1);
    s_expect (self, "clone https://ann:p4ssw0rd@git.example.com/x.git",
              "clone https://ann:[REDACTED:url_password]@git.example.com/x.git", 1);
    //  A known format inside an assignment keeps its own type, once.
    snprintf (text, sizeof text, "GITHUB_TOKEN=gh" "p_%s", a36);
    s_expect (self, text, "GITHUB_TOKEN=[REDACTED:github_token]", 1);
    s_keep (self, "passwords are hashed; max_tokens is 4096; the token: no; secretary=ann; "
                  "password:\n\nnext paragraph; a bearer of news; https://example.com/a:b@c");

    s_keep (self, "Authorization: required for admins; authorization=denied; the "
                  "private data is <priv>not tagged</priv>");
    //  <private> spans, closed or not, any case
    s_expect (self, "keep <private>my home address</private> keep",
              "keep [REDACTED:private] keep", 1);
    s_expect (self, "a <PRIVATE>x\ny</Private> b <private>to the end",
              "a [REDACTED:private] b [REDACTED:private]",
              2);

    //  Counting, placeholders are never redacted again, the result is idempotent
    snprintf (text, sizeof text, "a AKIA" "IOSFODNN7EXAMPLE b password=x1y2z3 c gh" "s_%s d", a36);
    snprintf (want, sizeof want, "a [REDACTED:aws_access_key] b password=[REDACTED:secret] c "
                                 "[REDACTED:github_token] d");
    s_expect (self, text, want, 3);
    s_keep (self, want);

    //  UTF-8: secrets next to multibyte text; invalid bytes never match or fail
    s_expect (self, "mot de passe é password=héhé2 ü",
              "mot de passe é password=[REDACTED:secret] ü", 1);
    s_expect (self, "日本語 AKIA" "IOSFODNN7EXAMPLE 日本語", "日本語 [REDACTED:aws_access_key] 日本語", 1);
    s_expect (self, "\xff\xfe AKIA" "IOSFODNN7EXAMPLE \xc3",
              "\xff\xfe [REDACTED:aws_access_key] \xc3", 1);
    s_keep (self, "caf\xc3\xa9 \xe2\x82 \xed\xa0\x80 plain");
    s_keep (self, "");

    //  Records: text and metadata values, count in metadata
    Memd__V1__Record record = MEMD__V1__RECORD__INIT;
    record.text = strdup ("token=abcdef123 and AKIA" "IOSFODNN7EXAMPLE");
    record.n_metadata = 1;
    record.metadata = malloc (sizeof *record.metadata);
    record.metadata[0] = malloc (sizeof **record.metadata);
    memd__v1__record__metadata_entry__init (record.metadata[0]);
    record.metadata[0]->key = strdup ("cmd");
    record.metadata[0]->value = strdup ("export SECRET=topsecret99");
    assert (mem_redact_record (self, &record) == 3);
    assert (strcmp (record.text, "token=[REDACTED:secret] and [REDACTED:aws_access_key]") == 0);
    assert (strcmp (record.metadata[0]->value, "export SECRET=[REDACTED:secret]") == 0);
    assert (record.n_metadata == 2);
    assert (strcmp (record.metadata[1]->key, MEM_REDACT_COUNT_KEY) == 0);
    assert (strcmp (record.metadata[1]->value, "3") == 0);
    //  Done again (a redone group commit), it changes nothing.
    assert (mem_redact_record (self, &record) == 0);
    assert (record.n_metadata == 2 && strcmp (record.metadata[1]->value, "3") == 0);
    for (size_t i = 0; i < record.n_metadata; i++) {
        free (record.metadata[i]->key);
        free (record.metadata[i]->value);
        free (record.metadata[i]);
    }
    free (record.metadata);
    free (record.text);

    //  1 MiB of text with secrets spread through it, in bounded time; and
    //  a 1 MiB private key block that never ends.
    size_t big_len = 1u << 20;
    char *big = malloc (big_len + 1);
    assert (big);
    size_t pos = 0, planted = 0;
    while (pos + 200 < big_len) {
        int n = planted % 50 == 0
                    ? snprintf (big + pos, 200, "line %zu password=pw%zu AKIA" "IOSFODNN7EXAMPLE ",
                                planted, planted)
                    : snprintf (big + pos, 200,
                                "line %zu of ordinary words, café, nothing else. ", planted);
        pos += (size_t) n;
        planted++;
    }
    memset (big + pos, 'x', big_len - pos);
    big[big_len] = 0;
    size_t secrets = 2 * ((planted + 49) / 50), count;
    int64_t t0 = clock ();
    char *clean = mem_redact_text (self, big, big_len, &count);
    double seconds = (double) (clock () - t0) / CLOCKS_PER_SEC;
    assert (clean && count == secrets);
    assert (!strstr (clean, "AKIA" "IOSFODNN7EXAMPLE") && !strstr (clean, "password=pw"));
    free (clean);
    memcpy (big, "-----BEGIN EC PRIVATE KEY-----\n", 31);
    t0 = clock ();
    clean = mem_redact_text (self, big, big_len, &count);
    double seconds_key = (double) (clock () - t0) / CLOCKS_PER_SEC;
    assert (clean && count == 1 && strcmp (clean, "[REDACTED:private_key]") == 0);
    free (clean);
    free (big);
    if (verbose)
        printf ("(1 MiB: %.1f ms, %zu secrets; open key block %.1f ms) ", seconds * 1e3, secrets,
                seconds_key * 1e3);
    assert (seconds < 2.0 && seconds_key < 2.0);
    mem_redact_destroy (&self);
    assert (self == NULL);

    //  Extra patterns: loaded, used after the built-ins; bad lines named
    char path[] = "/tmp/mem_redact_test.XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    const char *good = "# project secrets\n\ninternal_id\tACME-[0-9]{6}\n"
                       "ticket_pin\t(?i)pin ([0-9]{4})\n";
    assert (write (fd, good, strlen (good)) == (ssize_t) strlen (good));
    close (fd);
    self = mem_redact_new (path, err, sizeof err);
    assert (self);
    assert (mem_redact_patterns (self) == S_COUNT (s_formats) + S_COUNT (s_assignments) + 2);
    s_expect (self, "see ACME-123456, PIN 4321 and password=abc123",
              "see [REDACTED:internal_id], PIN [REDACTED:ticket_pin] and "
              "password=[REDACTED:secret]",
              3);
    s_keep (self, "ACME-12345 pin 12");
    mem_redact_destroy (&self);

    struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"ok\tx+\nbroken\t(unclosed\n", ":2: pattern 'broken': missing closing parenthesis"},
        {"no tab here\n", ":1: expected NAME<TAB>REGEX"},
        {"Bad-Name\tx\n", ":1: the name 'Bad-Name'"},
        {"empty\t\n", ":1: the regex is empty"},
        {"# c\nstar\tx*\n", ":2: pattern 'star': it can match an empty text"},
    };
    for (size_t i = 0; i < S_COUNT (bad); i++) {
        fd = open (path, O_WRONLY | O_TRUNC);
        assert (write (fd, bad[i].text, strlen (bad[i].text)) == (ssize_t) strlen (bad[i].text));
        close (fd);
        assert (mem_redact_new (path, err, sizeof err) == NULL);
        if (!strstr (err, bad[i].why) || !strstr (err, path)) {
            fprintf (stderr, "\nredact: error '%s' lacks '%s'\n", err, bad[i].why);
            assert (false);
        }
    }
    unlink (path);
    assert (mem_redact_new ("/nonexistent/patterns", err, sizeof err) == NULL);
    assert (strstr (err, "/nonexistent/patterns"));

    //  From config: enabled by default; disabled changes nothing; a bad file
    //  is named with its key.
    mem_config_t *config = mem_config_new ();
    self = mem_redact_from_config (config, err, sizeof err);
    assert (self && mem_redact_patterns (self) > 0);
    mem_redact_destroy (&self);
    assert (mem_config_set (config, "redact/enabled=0", NULL, err, sizeof err) == 0);
    self = mem_redact_from_config (config, err, sizeof err);
    assert (self && mem_redact_patterns (self) == 0);
    s_keep (self, "password=hunter2");
    mem_redact_destroy (&self);
    assert (mem_config_set (config, "redact/enabled=1", NULL, err, sizeof err) == 0);
    assert (mem_config_set (config, "redact/patterns=/nonexistent/p", NULL, err, sizeof err) == 0);
    assert (mem_redact_from_config (config, err, sizeof err) == NULL);
    assert (strstr (err, "redact/patterns") && strstr (err, "/nonexistent/p"));
    mem_config_destroy (&config);
    printf ("OK\n");
}
