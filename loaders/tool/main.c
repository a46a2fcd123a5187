/*
 * loaders/tool/main.c: flightsearch-feed's entry point: the command, then the command's own
 * options. Every command answers --help fully, with examples; the exit codes are the same for all.
 */
#include <string.h>

#include "loaders/tool/feed_tool.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " FT_NAME " COMMAND [options] ARGS\n"
                "\n"
                "The feed operators' tool for flightsearch: check a partner feed offline with the server's\n"
                "own decoder, build one from CSV or JSON Lines, and push it to a server.\n"
                "\n"
                "commands:\n"
                "  validate FILE...        check snapshot or delta files exactly as the server would\n"
                "  convert IN OUT          build a snapshot or delta (msgpack or JSON) from CSV or JSON Lines\n"
                "  push FILE               send a snapshot (PUT) or a delta (POST) to a server\n"
                "  help [COMMAND]          this text, or a command's (same as COMMAND --help)\n"
                "\n"
                "Files: a name ending in .msgpack or .json says the format (--format overrides); a name\n"
                "containing \".delta.\" (tap-43.delta.msgpack) is a delta, any other a snapshot (--delta and\n"
                "--snapshot override).\n"
                "\n"
                "exit codes (every command):\n"
                "  0  ok: valid, converted, or applied by the server\n"
                "  1  refused: the feed or the input is invalid, or the server refused the push (4xx)\n"
                "  2  usage: a bad command line, or an input or token file that cannot be read\n"
                "  3  transport: the server could not be reached, or answered 5xx after the retries\n"
                "\n"
                "examples:\n"
                "  " FT_NAME " validate feeds/tap-42.msgpack feeds/tap-43.delta.msgpack\n"
                "  " FT_NAME " convert --source tap --sequence 42 tap.csv feeds/tap-42.msgpack\n"
                "  " FT_NAME " push --url http://127.0.0.1:8080 --token-file ~/.flightsearch-token \\\n"
                "      feeds/tap-42.msgpack\n"
                "\n"
                "More: " FT_NAME " COMMAND --help, and loaders/tool/README.md.\n");
}

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *fp);
} command_t;

static const command_t commands[] = {
    {"validate", ft_cmd_validate, ft_validate_usage},
    {"convert", ft_cmd_convert, ft_convert_usage},
    {"push", ft_cmd_push, ft_push_usage},
};

static const command_t *find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return FT_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf(FT_NAME " " FT_VERSION "\n");
        return FT_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return FT_EXIT_OK;
        }
        const command_t *c = find(argv[2]);
        if (c == NULL) {
            fprintf(stderr, FT_NAME ": unknown command '%s' (commands: validate, convert, push)\n", argv[2]);
            return FT_EXIT_USAGE;
        }
        c->usage(stdout);
        return FT_EXIT_OK;
    }
    const command_t *c = find(cmd);
    if (c == NULL) {
        fprintf(stderr, FT_NAME ": unknown command '%s' (commands: validate, convert, push; see " FT_NAME " --help)\n", cmd);
        return FT_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
