/*
 * main.c — the `spoor` command: picks the subcommand, sets up libcurl and the
 * locale, and turns the command's status into the process exit status.
 *
 *   spoor [global flags] COMMAND [flags] [args]
 *
 * Global flags may stand before the command as well as after it; they are
 * collected here up to the command name and the rest goes to the command,
 * which accepts them too.  Exit statuses: 0 ok, 1 the server said no,
 * 2 usage, 3 cannot connect (enum cl_exit).
 */
#include <curl/curl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "cl.h"

struct command {
	const char *name;
	int (*run)(struct cl_ctx *cx, int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
    {"post", cl_cmd_post, "send NDJSON events from a file or stdin to the ingest port"},
    {"funnel", cl_cmd_funnel, "step-by-step conversion of a flow, as a table with bars"},
    {"replay", cl_cmd_replay, "every event of one session, in order"},
    {"sessions", cl_cmd_sessions, "list sessions, newest first (--user U for one user's)"},
    {"series", cl_cmd_series, "events and sessions per time bucket"},
    {"stats", cl_cmd_stats, "what the store holds"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
	fprintf(out, "usage: spoor [global flags] COMMAND [flags]\n\n"
		     "The command-line client of spoord, the clickstream store.\n\nCommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
	cl_global_usage(out);
	fprintf(out, "  %-20s  print the version\n", "--version");
	fprintf(out, "\n`spoor COMMAND --help` describes a command.\n"
		     "Times (--from, --to): ms since the epoch, RFC 3339 (2024-11-21T14:00:00Z),\n"
		     "a date (midnight UTC), now, or relative to now (-90m, -1h, -7d).\n"
		     "Durations (--window, --interval): 500ms, 30s, 5m, 1h, 1d, 1h30m, or ms.\n"
		     "Times are printed in the local time zone (set TZ=UTC for UTC).\n"
		     "\nExit status: 0 ok, 1 the server said no, 2 usage, 3 cannot connect.\n");
}

int main(int argc, char **argv)
{
	struct cl_ctx cx;
	struct cl_http *http = NULL;
	const struct command *cmd = NULL;
	struct cl_args a = {argc - 1, argv + 1, 0, 0, ""};
	const char *val;
	int id, rc;

	setlocale(LC_ALL, "");
	cl_ctx_init(&cx, "", NULL);
	/* global flags before the command */
	while (!cmd) {
		if (a.i < a.argc && strcmp(a.argv[a.i], "--version") == 0) {
			printf("spoor %s\n", SPOOR_VERSION);
			return CL_EXIT_OK;
		}
		if ((id = cl_args_next(&a, NULL, &val)) == CL_ARG_END)
			break;
		if (id == CL_ARG_POS) {
			for (size_t i = 0; i < NCOMMANDS; i++)
				if (strcmp(val, commands[i].name) == 0)
					cmd = &commands[i];
			if (!cmd && strcmp(val, "help") == 0) {
				usage(stdout);
				return CL_EXIT_OK;
			}
			if (!cmd) {
				fprintf(stderr,
					"spoor: unknown command \"%s\" (see spoor --help)\n", val);
				return CL_EXIT_USAGE;
			}
		} else if (id == CL_G_HELP) {
			usage(stdout);
			return CL_EXIT_OK;
		} else if (id < 0) {
			return CL_EXIT_USAGE;
		} else {
			cl_ctx_flag(&cx, id, val);
		}
	}
	if (!cmd) {
		usage(stderr);
		return CL_EXIT_USAGE;
	}
	cx.cmd = cmd->name;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "spoor: cannot initialize libcurl\n");
		return CL_EXIT_CONNECT;
	}
	if (cl_http_new(&http) < 0) {
		fprintf(stderr, "spoor: out of memory\n");
		curl_global_cleanup();
		return CL_EXIT_REFUSED;
	}
	cx.http = http;
	rc = cmd->run(&cx, a.argc - a.i, a.argv + a.i);
	if (fflush(stdout) != 0 && rc == CL_EXIT_OK) {
		fprintf(stderr, "spoor %s: cannot write the output\n", cmd->name);
		rc = CL_EXIT_REFUSED;
	}
	cl_http_free(http);
	curl_global_cleanup();
	return rc;
}
