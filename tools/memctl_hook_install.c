/*  memctl_hook_install — `memctl hook install`: puts memd's three hooks
    into Claude Code's settings.json (see memctl_hook.c for the hooks).

    The settings are read with jansson, the hooks added where they are
    missing, and the result compared with what was there: no change, no
    write (a second install is a no-op). Otherwise the change is shown as
    a unified diff of the settings as JSON, and written only after a yes
    (or --yes), atomically (a temporary file in the same directory, fsync,
    rename) into the file a symlinked settings.json points to, with its
    permissions. Every other setting is kept — other hooks on the same
    events included — and keys keep their order; the file is written back
    with two-space indentation.

    A hook counts as ours when its command runs memctl with "hook EVENT":
    one with another memctl path (memctl moved) gets the new command; it
    is never added twice.
*/
#include "memctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int memctl_hook_install (ctx_t *ctx, int argc, char **argv);

#define S_HOOK_TIMEOUT_S 5          //  Claude Code's own limit for our hooks (seconds)
#define S_DIFF_MAX_CELLS 40000000   //  lines × lines past which no diff is computed
#define S_CONTEXT_LINES  3

static const struct {
    const char *event;              //  Claude Code's hook event
    const char *sub;                //  `memctl hook SUB`
} s_hooks[] = {
    {"SessionStart", "session-start"},
    {"UserPromptSubmit", "user-prompt"},
    {"Stop", "stop"},
};
#define S_HOOK_COUNT (sizeof s_hooks / sizeof s_hooks[0])

//  --------------------------------------------------------------------------
//  The settings

//  The program the hooks run: --command, else this memctl's absolute path,
//  quoted for the shell when it needs it.
static char *
s_program (const char *given)
{
    if (given)
        return strdup (given);
    char path[PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", path, sizeof path - 1);
    if (len <= 0)
        return strdup ("memctl");
    path[len] = 0;
    if (strspn (path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-+")
        == (size_t) len)
        return strdup (path);
    //  'it'\''s' quoting
    char *quoted = malloc ((size_t) len * 4 + 3), *q = quoted;
    if (!quoted)
        return NULL;
    *q++ = '\'';
    for (const char *p = path; *p; p++) {
        if (*p == '\'') {
            memcpy (q, "'\\''", 4);
            q += 4;
        }
        else
            *q++ = *p;
    }
    *q++ = '\'';
    *q = 0;
    return quoted;
}

//  True if command is `… memctl … hook SUB` (SUB last or followed by a space).
static bool
s_is_ours (const char *command, const char *sub)
{
    if (!command || !strstr (command, "memctl"))
        return false;
    char needle[64];
    snprintf (needle, sizeof needle, "hook %s", sub);
    size_t len = strlen (needle);
    for (const char *at = strstr (command, needle); at; at = strstr (at + 1, needle))
        if ((at == command || at[-1] == ' ') && (at[len] == 0 || at[len] == ' '))
            return true;
    return false;
}

//  Adds our hook for one event to settings (an object), or points an
//  existing one at command. -1 with err when the settings have a shape
//  Claude Code would not accept either.
static int
s_ensure_hook (json_t *settings, const char *event, const char *sub, const char *command,
               char *err, size_t err_size)
{
    json_t *hooks = json_object_get (settings, "hooks");
    if (!hooks) {
        hooks = json_object ();
        json_object_set_new (settings, "hooks", hooks);
    }
    if (!json_is_object (hooks)) {
        snprintf (err, err_size, "\"hooks\" is not an object");
        return -1;
    }
    json_t *groups = json_object_get (hooks, event);
    if (!groups) {
        groups = json_array ();
        json_object_set_new (hooks, event, groups);
    }
    if (!json_is_array (groups)) {
        snprintf (err, err_size, "\"hooks\".\"%s\" is not an array", event);
        return -1;
    }
    size_t i, j;
    json_t *group, *hook;
    json_array_foreach (groups, i, group) {
        json_t *list = json_object_get (group, "hooks");
        json_array_foreach (list, j, hook) {
            json_t *cmd = json_object_get (hook, "command");
            if (!s_is_ours (json_string_value (cmd), sub))
                continue;
            if (strcmp (json_string_value (cmd), command) != 0)
                json_object_set_new (hook, "command", json_string (command));
            return 0;
        }
    }
    json_array_append_new (groups,
                           json_pack ("{s:[{s:s, s:s, s:i}]}", "hooks", "type", "command",
                                      "command", command, "timeout", S_HOOK_TIMEOUT_S));
    return 0;
}

//  The settings as written: JSON, two-space indent, a final newline.
static char *
s_render (json_t *settings)
{
    char *text = json_dumps (settings, JSON_INDENT (2) | JSON_REAL_PRECISION (17));
    char *line = NULL;
    if (text && asprintf (&line, "%s\n", text) < 0)
        line = NULL;
    free (text);
    return line;
}

//  --------------------------------------------------------------------------
//  A unified diff of two texts, by lines (longest common subsequence)

typedef struct {
    char **lines;
    size_t n;
} s_lines_t;

static int
s_split (char *text, s_lines_t *out)
{
    out->n = 0;
    out->lines = NULL;
    size_t cap = 0;
    for (char *p = text; p && *p;) {
        char *nl = strchr (p, '\n');
        if (nl)
            *nl = 0;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc (out->lines, cap * sizeof *grown);
            if (!grown)
                return -1;
            out->lines = grown;
        }
        out->lines[out->n++] = p;
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

//  Prints a - b as unified diff hunks on stdout.
static void
s_print_diff (const char *label_a, const char *label_b, char *a_text, char *b_text)
{
    s_lines_t a, b;
    if (s_split (a_text, &a) || s_split (b_text, &b)
        || (double) (a.n + 1) * (double) (b.n + 1) > S_DIFF_MAX_CELLS) {
        printf ("(the settings are too large to show a diff)\n");
        free (a.lines);
        free (b.lines);
        return;
    }
    size_t w = b.n + 1;
    uint32_t *lcs = calloc ((a.n + 1) * w, sizeof *lcs);
    //  One entry per output line: ' ', '-' or '+', and the line indexes.
    typedef struct {
        char op;
        size_t ai, bi;
    } op_t;
    op_t *ops = malloc ((a.n + b.n + 1) * sizeof *ops);
    if (!lcs || !ops) {
        free (lcs);
        free (ops);
        free (a.lines);
        free (b.lines);
        return;
    }
    for (size_t i = a.n; i-- > 0;)
        for (size_t j = b.n; j-- > 0;) {
            uint32_t down = lcs[(i + 1) * w + j], right = lcs[i * w + j + 1];
            lcs[i * w + j] = strcmp (a.lines[i], b.lines[j]) == 0 ? lcs[(i + 1) * w + j + 1] + 1
                           : down > right                         ? down
                                                                  : right;
        }
    size_t n_ops = 0, i = 0, j = 0;
    while (i < a.n || j < b.n) {
        if (i < a.n && j < b.n && strcmp (a.lines[i], b.lines[j]) == 0)
            ops[n_ops++] = (op_t) {' ', i++, j++};
        else if (j < b.n && (i == a.n || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j]))
            ops[n_ops++] = (op_t) {'+', i, j++};
        else
            ops[n_ops++] = (op_t) {'-', i++, j};
    }
    printf ("--- %s\n+++ %s\n", label_a, label_b);
    for (size_t k = 0; k < n_ops;) {
        if (ops[k].op == ' ') {
            k++;
            continue;
        }
        //  A hunk: from the change less the context, to the last change
        //  that follows within twice the context, plus the context.
        size_t first = k > S_CONTEXT_LINES ? k - S_CONTEXT_LINES : 0, last = k;
        for (size_t m = k; m < n_ops && m <= last + 2 * S_CONTEXT_LINES; m++)
            if (ops[m].op != ' ')
                last = m;
        size_t end = last + S_CONTEXT_LINES + 1 < n_ops ? last + S_CONTEXT_LINES + 1 : n_ops;
        size_t a_count = 0, b_count = 0;
        for (size_t m = first; m < end; m++) {
            a_count += ops[m].op != '+';
            b_count += ops[m].op != '-';
        }
        printf ("@@ -%zu,%zu +%zu,%zu @@\n", ops[first].ai + (a_count > 0), a_count,
                ops[first].bi + (b_count > 0), b_count);
        for (size_t m = first; m < end; m++)
            printf ("%c%s\n", ops[m].op,
                    ops[m].op == '+' ? b.lines[ops[m].bi] : a.lines[ops[m].ai]);
        k = end;
    }
    free (lcs);
    free (ops);
    free (a.lines);
    free (b.lines);
}

//  --------------------------------------------------------------------------
//  Reading, asking, writing

//  Reads path; *text NULL (and 0) when it does not exist. -1 with err.
static int
s_read_file (const char *path, char **text, char *err, size_t err_size)
{
    *text = NULL;
    FILE *file = fopen (path, "r");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        snprintf (err, err_size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    size_t size = 0;
    FILE *out = open_memstream (text, &size);
    char buf[8192];
    size_t got;
    while (out && (got = fread (buf, 1, sizeof buf, file)) > 0)
        fwrite (buf, 1, got, out);
    bool failed = ferror (file) || !out;
    fclose (file);
    if (out)
        fclose (out);
    if (failed) {
        free (*text);
        *text = NULL;
        snprintf (err, err_size, "cannot read %s", path);
        return -1;
    }
    return 0;
}

//  Writes text to path atomically, keeping the file's mode. -1 with err.
static int
s_write_file (const char *path, const char *text, char *err, size_t err_size)
{
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        for (char *p = dir + 1; *p; p++)
            if (*p == '/') {
                *p = 0;
                mkdir (dir, 0700);
                *p = '/';
            }
        if (mkdir (dir, 0700) && errno != EEXIST) {
            snprintf (err, err_size, "cannot create %s: %s", dir, strerror (errno));
            return -1;
        }
    }
    struct stat st;
    mode_t mode = stat (path, &st) == 0 ? st.st_mode & 07777 : 0600;
    char tmp[PATH_MAX + 32];
    snprintf (tmp, sizeof tmp, "%s.memctl-XXXXXX", path);
    int fd = mkstemp (tmp);
    if (fd < 0) {
        snprintf (err, err_size, "cannot write next to %s: %s", path, strerror (errno));
        return -1;
    }
    size_t len = strlen (text);
    bool ok = fchmod (fd, mode) == 0 && write (fd, text, len) == (ssize_t) len && fsync (fd) == 0;
    int saved = errno;
    ok = close (fd) == 0 && ok;
    if (!ok || rename (tmp, path)) {
        if (ok)
            saved = errno;
        unlink (tmp);
        snprintf (err, err_size, "cannot write %s: %s", path, strerror (saved));
        return -1;
    }
    return 0;
}

//  The default settings file of Claude Code.
static int
s_default_settings (char *path, size_t size)
{
    const char *dir = getenv ("CLAUDE_CONFIG_DIR");
    const char *home = getenv ("HOME");
    int len = dir && *dir ? snprintf (path, size, "%s/settings.json", dir)
            : home && *home ? snprintf (path, size, "%s/.claude/settings.json", home)
                            : -1;
    return len > 0 && (size_t) len < size ? 0 : -1;
}

//  Asks on the terminal. True for yes.
static bool
s_confirm (const char *path)
{
    printf ("Write these changes to %s? [y/N] ", path);
    fflush (stdout);
    char answer[16];
    if (!fgets (answer, sizeof answer, stdin))
        return false;
    return answer[0] == 'y' || answer[0] == 'Y';
}

int
memctl_hook_install (ctx_t *ctx, int argc, char **argv)
{
    enum { OPT_SETTINGS = 1000, OPT_COMMAND };
    static const struct option options[] = {COMMON_LONG,
                                            {"settings", required_argument, NULL, OPT_SETTINGS},
                                            {"command", required_argument, NULL, OPT_COMMAND},
                                            {"yes", no_argument, NULL, 'y'},
                                            {NULL, 0, NULL, 0}};
    const char *settings_path = NULL, *program_arg = NULL;
    bool yes = false;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT "y", options, NULL)) != -1) {
        if (c == OPT_SETTINGS)
            settings_path = optarg;
        else if (c == OPT_COMMAND)
            program_arg = optarg;
        else if (c == 'y')
            yes = true;
        else
            rc = memctl_common_option (ctx, c, argv);
    }
    if (rc < 0 && optind < argc)
        rc = memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    char given[PATH_MAX], path[PATH_MAX];
    if (rc < 0 && !settings_path) {
        if (s_default_settings (given, sizeof given))
            rc = memctl_usage_error (ctx,
                                     "no HOME to find ~/.claude/settings.json; use --settings");
        settings_path = given;
    }
    if (rc >= 0)
        return rc;
    //  A symlinked settings.json (dotfiles) is written where it points.
    if (!realpath (settings_path, path))
        snprintf (path, sizeof path, "%s", settings_path);

    char err[PATH_MAX + 512];
    char *before = NULL;
    if (s_read_file (path, &before, err, sizeof err))
        return memctl_fail (ctx, MEMD__V1__CODE__INVALID_ARGUMENT, err);
    json_error_t jerr;
    json_t *settings = before && before[strspn (before, " \t\r\n")]
                           ? json_loads (before, 0, &jerr)
                           : json_object ();
    if (!json_is_object (settings)) {
        snprintf (err, sizeof err, "%s is not a JSON object%s%s; not changing it", path,
                  settings ? "" : ": ", settings ? "" : jerr.text);
        json_decref (settings);
        free (before);
        return memctl_fail (ctx, MEMD__V1__CODE__INVALID_ARGUMENT, err);
    }
    char *original = s_render (settings);
    char *program = s_program (program_arg);
    for (size_t i = 0; i < S_HOOK_COUNT && rc < 0 && program; i++) {
        char *command = NULL;
        if (asprintf (&command, "%s hook %s%s%s", program, s_hooks[i].sub,
                      ctx->endpoint ? " --endpoint " : "", ctx->endpoint ? ctx->endpoint : "")
            < 0)
            break;
        char why[256];
        if (s_ensure_hook (settings, s_hooks[i].event, s_hooks[i].sub, command, why, sizeof why)) {
            snprintf (err, sizeof err, "%s: %s; not changing it", path, why);
            rc = memctl_fail (ctx, MEMD__V1__CODE__INVALID_ARGUMENT, err);
        }
        free (command);
    }
    char *after = rc < 0 ? s_render (settings) : NULL;
    json_decref (settings);
    free (program);
    if (rc < 0 && (!original || !after))
        rc = memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    if (rc < 0 && strcmp (original, after) == 0) {
        printf ("memd's hooks are already in %s; nothing to change.\n", path);
        rc = 0;
    }
    if (rc < 0) {
        char label_a[PATH_MAX + 16], label_b[PATH_MAX + 16];
        snprintf (label_a, sizeof label_a, "%s%s", path, before ? "" : " (new file)");
        snprintf (label_b, sizeof label_b, "%s", path);
        char *a = strdup (original), *b = strdup (after);
        if (a && b)
            s_print_diff (label_a, label_b, before ? a : (char *) "", b);
        free (a);
        free (b);
        if (before && strcmp (before, original) != 0)
            printf ("(the whole file is written back as JSON with two-space indentation)\n");
        if (!yes && !isatty (STDIN_FILENO)) {
            fprintf (stderr, "memctl hook install: not a terminal, so not asking: run again "
                             "with --yes to write %s\n",
                     path);
            rc = EXIT_REFUSED;
        }
        else if (!yes && !s_confirm (path)) {
            printf ("Nothing written.\n");
            rc = EXIT_REFUSED;
        }
        else if (s_write_file (path, after, err, sizeof err))
            rc = memctl_fail (ctx, MEMD__V1__CODE__INTERNAL, err);
        else {
            printf ("Installed memd's hooks (SessionStart, UserPromptSubmit, Stop) in %s.\n",
                    path);
            rc = 0;
        }
    }
    free (before);
    free (original);
    free (after);
    return rc;
}
