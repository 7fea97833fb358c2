/*  memd_agent — agent ids for projects, and a quick "is memd there"; see
    memd_agent.h. */
#include "memd_agent.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Length of the well-formed, printable UTF-8 character at p (no control
//  characters, overlongs or surrogates), or 0.
static size_t
s_char_len (const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c < 0x80)
        return c >= 0x20 && c != 0x7f ? 1 : 0;
    size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || (size_t) (end - p) < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90)
        || (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return len;
}

//  Copies name[0..len) into out as an agent id: cut on a character
//  boundary at MEMD_AGENT_MAX bytes, bad bytes as '_'.
static void
s_clean_name (const char *name, size_t len, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *) name, *end = p + len;
    size_t limit = size - 1 < MEMD_AGENT_MAX ? size - 1 : MEMD_AGENT_MAX;
    size_t n = 0;
    while (p < end) {
        size_t char_len = s_char_len (p, end);
        size_t take = char_len ? char_len : 1;
        if (n + take > limit)
            break;
        if (char_len)
            memcpy (out + n, p, char_len);
        else
            out[n] = '_';
        n += take;
        p += take;
    }
    out[n] = 0;
}

void
memd_agent_for_dir (const char *dir, char *out, size_t size)
{
    char path[PATH_MAX];
    if (!dir || !*dir || strlen (dir) >= sizeof path - 6) {
        snprintf (out, size, "default");
        return;
    }
    snprintf (path, sizeof path, "%s", dir);
    size_t len = strlen (path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = 0;

    //  Up to the root of the git work tree, if there is one.
    char probe[PATH_MAX + 8];
    size_t root = len;
    for (size_t at = len; at > 0;) {
        struct stat st;
        snprintf (probe, sizeof probe, "%.*s/.git", (int) at, path);
        if (stat (probe, &st) == 0) {
            root = at;
            break;
        }
        while (at > 0 && path[at - 1] != '/')
            at--;
        while (at > 1 && path[at - 1] == '/')
            at--;
        if (at <= 1)
            break;
    }
    path[root] = 0;
    const char *base = strrchr (path, '/');
    base = base ? base + 1 : path;
    if (!*base || strcmp (base, ".") == 0 || strcmp (base, "..") == 0)
        snprintf (out, size, "default");
    else
        s_clean_name (base, strlen (base), out, size);
    if (!*out)
        snprintf (out, size, "default");
}

void
memd_agent_resolve (const char *flag, const char *dir, char *out, size_t size)
{
    const char *env = getenv ("MEMD_AGENT");
    const char *project = getenv ("CLAUDE_PROJECT_DIR");
    if (flag && *flag)
        s_clean_name (flag, strlen (flag), out, size);
    else if (env && *env)
        s_clean_name (env, strlen (env), out, size);
    else if (project && *project)
        memd_agent_for_dir (project, out, size);
    else if (dir && *dir)
        memd_agent_for_dir (dir, out, size);
    else {
        char cwd[PATH_MAX];
        memd_agent_for_dir (getcwd (cwd, sizeof cwd) ? cwd : NULL, out, size);
    }
    if (!*out)
        snprintf (out, size, "default");
}

bool
memd_endpoint_absent (const char *endpoint)
{
    if (!endpoint || strncmp (endpoint, "ipc://", 6) != 0)
        return false;
    const char *path = endpoint + 6;
    if (*path == '@')
        return false;   //  an abstract socket has no file to look at
    struct stat st;
    return stat (path, &st) != 0 && errno == ENOENT;
}
