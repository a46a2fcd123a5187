/*
 * src/main.c: flightsearch. Parses the command line and runs the server (src/http.c). Every log
 * line goes through fs_log (loaders/log.c).
 */
#include <stdio.h>
#include "loaders/loaders.h"
#include "src/server.h"

int main(int argc, char **argv)
{
    fs_config_t cfg;
    char err[512];
    int r = fs_config_parse(&cfg, argc, argv, err, sizeof(err));
    if (r == 1)
        return 0;
    if (r != 0) {
        fs_log("%s", err);
        return 2;
    }
    return fs_server_run(&cfg);
}
