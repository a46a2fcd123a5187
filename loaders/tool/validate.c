/*
 * loaders/tool/validate.c: `flightsearch-feed validate`: fs_feed_decode over mapped files, with
 * the server's verdict printed both ways (its JSON, and a list for people).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loaders/tool/feed_tool.h"

void ft_validate_usage(FILE *fp)
{
    fprintf(fp, "usage: " FT_NAME " validate [--format msgpack|json] [--delta|--snapshot] [--source S] FILE...\n"
                "\n"
                "Checks each FILE offline with the server's own decoder (fs_feed_decode): the same schema,\n"
                "limits and duplicate-key checks a push gets. Files are mapped, not read: a 1 GB snapshot\n"
                "takes about as long as the server takes to decode it.\n"
                "\n"
                "  valid    stdout: FILE: valid snapshot of source tap, sequence 42, 15258 legs\n"
                "           (a delta: FILE: valid delta of source tap, sequence 43, 120 upserts, 3 removes)\n"
                "  refused  stdout: the JSON error document the server would answer, on one line:\n"
                "             {\"error\":{\"code\":\"invalid_feed\",\"message\":...,\"errors\":[{\"index\":3,\n"
                "             \"field\":\"cabins.economy.miles\",\"reason\":...}]}}\n"
                "           stderr: the same problems, one a line:\n"
                "             record 3, field cabins.economy.miles: must be between 1 and 10000000, got 0\n"
                "           \"malformed_feed\" (the server's 400) when the bytes are not a document at all,\n"
                "           \"invalid_feed\" (422) when records break the rules; the first 20 problems are listed.\n"
                "\n"
                "options:\n"
                "  --format msgpack|json   the format (default: from the name, .msgpack or .json)\n"
                "  --delta                 check as a delta (default: when the name contains \".delta.\")\n"
                "  --snapshot              check as a snapshot\n"
                "  --source S              also require the feed's source to be S, as a push to\n"
                "                          /v1/feeds/S/... does\n"
                "\n"
                "exit codes: 0 every file is valid, 1 a file was refused, 2 bad usage or a file that cannot\n"
                "be read (3 is not used by validate).\n"
                "\n"
                "examples:\n"
                "  " FT_NAME " validate feeds/tap-42.msgpack\n"
                "  " FT_NAME " validate feeds/tap-43.delta.msgpack feeds/latam-7.json\n"
                "  " FT_NAME " validate --snapshot --format json --source tap export.txt\n"
                "  " FT_NAME " validate big.msgpack 2>/dev/null | jq .error.errors   # the JSON only\n");
}

/* One file. Returns its exit code. */
static int validate_one(const char *path, const char *format_opt, int delta, int snapshot, const char *source)
{
    char err[512], line[256];
    fs_feed_format_t format;
    fs_feed_kind_t kind;
    fs_feed_header_t hdr;
    fs_feed_errors_t errs;
    ft_counts_t counts;
    ft_map_t m;
    int e, r;

    if (ft_feed_format(path, format_opt, &format, err, sizeof(err)) != 0)
        return ft_usage_error("validate", "%s", err);
    ft_feed_kind(path, delta, snapshot, &kind);
    if ((e = ft_map_file(path, &m)) != 0) {
        fprintf(stderr, FT_NAME " validate: %s: cannot read: %s\n", path, strerror(e));
        return FT_EXIT_USAGE;
    }
    r = ft_check(m.data, m.len, format, kind, source, &hdr, &counts, &errs);
    ft_unmap(&m);
    if (r == 0) {
        ft_describe(line, sizeof(line), kind, &hdr, &counts);
        printf("%s: %s\n", path, line);
        return FT_EXIT_OK;
    }
    if (r != FS_EINVAL) {
        fprintf(stderr, FT_NAME " validate: %s: %s\n", path, fs_strerror(r));
        return FT_EXIT_USAGE;
    }
    return ft_report_refused(path, &errs, kind);
}

int ft_cmd_validate(int argc, char **argv)
{
    const char *format = NULL, *source = NULL;
    int delta = 0, snapshot = 0, npos, r, worst = FT_EXIT_OK;
    const ft_opt_t opts[] = {
        {"--format", &format, NULL}, {"--delta", NULL, &delta}, {"--snapshot", NULL, &snapshot},
        {"--source", &source, NULL}, {NULL, NULL, NULL},
    };
    const char **files = ft_xrealloc(NULL, sizeof(*files) * (size_t)(argc > 0 ? argc : 1));

    r = ft_parse_args(argc, argv, opts, ft_validate_usage, files, argc, &npos);
    if (r != 0) {
        free((void *)files);
        return r == 1 ? FT_EXIT_OK : r;
    }
    if (npos == 0)
        r = ft_usage_error("validate", "no FILE given");
    else if (delta && snapshot)
        r = ft_usage_error("validate", "--delta and --snapshot exclude each other");
    else if (format != NULL && strcmp(format, "msgpack") != 0 && strcmp(format, "json") != 0)
        r = ft_usage_error("validate", "--format: expected msgpack or json, got '%s'", format);
    else if (source != NULL && !fs_feed_source_valid(source, strlen(source)))
        r = ft_usage_error("validate", "--source: expected a name matching [a-z0-9_-]{1,32}, got '%s'", source);
    if (r != 0) {
        free((void *)files);
        return r;
    }
    for (int i = 0; i < npos; i++) {
        int one = validate_one(files[i], format, delta, snapshot, source);
        fflush(stdout);
        if (one > worst)
            worst = one;
    }
    free((void *)files);
    return worst;
}
