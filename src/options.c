/* Command-line options of the node: parsing, validation and --help text. */
#include <getopt.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "duration.h"
#include "escape.h"
#include "options.h"

static const struct option long_options[] = {
	{"node", required_argument, NULL, 'n'},
	{"dbname", required_argument, NULL, 'd'},
	{"cluster", required_argument, NULL, 'c'},
	{"listen", required_argument, NULL, 'l'},
	{"poll-interval", required_argument, NULL, 'p'},
	{"acquire", required_argument, NULL, 'a'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

void
options_print_usage(FILE *out)
{
	fprintf(out,
		"Usage: clustered_nodes [OPTION]...\n"
		"Run one node of a cluster in which exactly one node, the leader, reacts to\n"
		"PostgreSQL notifications and persists its counter; the others stand by and\n"
		"take over when the leader's database session ends.\n"
		"\n"
		"Options:\n"
		"  -n, --node NAME           this node's name, unique in the cluster\n"
		"                            (default: the short host name)\n"
		"  -d, --dbname CONNINFO     libpq connection string or URI; what it leaves out\n"
		"                            comes from PG* variables and ~/.pgpass, as in psql\n"
		"                            (default: empty, i.e. libpq's defaults)\n"
		"  -c, --cluster NAME        the cluster this node belongs to (default: %s)\n"
		"  -l, --listen CHANNEL      a channel the leader LISTENs on; repeat for more,\n"
		"                            at most %d (default: %s)\n"
		"  -p, --poll-interval TIME  how often a standby tries the leader lock: a number\n"
		"                            of milliseconds or with a unit ms, s, min, h\n"
		"                            (default: %dms)\n"
		"  -a, --acquire MODE        how a standby competes for the lock: 'poll' tries\n"
		"                            it every poll interval; 'wait' queues in\n"
		"                            pg_advisory_lock and is woken by its release\n"
		"                            (faster, fair; needs PostgreSQL 14+) (default: poll)\n"
		"  -h, --help                print this help and exit\n"
		"  -V, --version             print the version and exit\n"
		"\n"
		"Names are 1 to 63 bytes without control characters.\n"
		"\n"
		"Exit status:\n"
		"  0   stopped by SIGTERM or SIGINT (a leader hands over first)\n"
		"  64  bad command-line usage\n"
		"  70  internal error\n"
		"  78  configuration problem (e.g. the schema in sql/ is not applied)\n",
		DEFAULT_CLUSTER, MAX_CHANNELS, DEFAULT_CHANNEL, DEFAULT_POLL_INTERVAL_MS);
}

static void
set_default_node(struct options *o)
{
	char host[256];
	char *dot;

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if ((dot = strchr(host, '.')) != NULL)
		*dot = '\0';
	if (name_problem(host) != NULL)
		strcpy(host, "node");
	snprintf(o->node_default, sizeof(o->node_default), "%s", host);
	o->node = o->node_default;
}

static int
usage_error(char *err, size_t errlen, const char *option, const char *value,
	    const char *why)
{
	char shown[ESCAPE_MAX_LEN(128)];

	/* The value may hold the very control characters we complain about. */
	if (value) {
		escape_for_log(shown, sizeof(shown), value, strlen(value));
		snprintf(err, errlen, "%s '%s' %s", option, shown, why);
	}
	else
		snprintf(err, errlen, "%s %s", option, why);
	return EX_USAGE;
}

int
options_parse(struct options *o, int argc, char **argv, char *err, size_t errlen)
{
	bool channels_given = false;
	const char *why;
	int c;

	memset(o, 0, sizeof(*o));
	o->action = ACTION_RUN;
	o->dbname = "";
	o->cluster = DEFAULT_CLUSTER;
	o->poll_interval_ms = DEFAULT_POLL_INTERVAL_MS;
	set_default_node(o);

	optind = 0;		/* GNU: full re-initialisation, so tests may parse twice */
	opterr = 0;		/* we print our own one-line errors */
	while ((c = getopt_long(argc, argv, ":n:d:c:l:p:a:hV", long_options, NULL)) != -1) {
		switch (c) {
		case 'n':
			if ((why = name_problem(optarg)) != NULL)
				return usage_error(err, errlen, "--node", optarg, why);
			o->node = optarg;
			break;
		case 'd':
			o->dbname = optarg;
			break;
		case 'c':
			if ((why = name_problem(optarg)) != NULL)
				return usage_error(err, errlen, "--cluster", optarg, why);
			o->cluster = optarg;
			break;
		case 'l':
			if ((why = channel_problem(optarg)) != NULL)
				return usage_error(err, errlen, "--listen", optarg, why);
			for (int i = 0; i < o->nchannels; i++)
				if (strcmp(o->channels[i], optarg) == 0)
					return usage_error(err, errlen, "--listen", optarg,
							   "is given twice");
			if (o->nchannels == MAX_CHANNELS)
				return usage_error(err, errlen, "--listen", NULL,
						   "is given more than 64 times");
			o->channels[o->nchannels++] = optarg;
			channels_given = true;
			break;
		case 'p':
			if (!parse_duration_ms(optarg, 1, MAX_POLL_INTERVAL_MS,
					       &o->poll_interval_ms, &why))
				return usage_error(err, errlen, "--poll-interval", optarg,
						   strcmp(why, "is out of range") == 0 ?
						   "is out of range (1ms to 1h)" : why);
			break;
		case 'a':
			if (strcmp(optarg, "poll") == 0)
				o->acquire = ACQUIRE_POLL;
			else if (strcmp(optarg, "wait") == 0)
				o->acquire = ACQUIRE_WAIT;
			else
				return usage_error(err, errlen, "--acquire", optarg,
						   "is not a mode (use poll or wait)");
			break;
		case 'h':
			o->action = ACTION_HELP;
			return 0;
		case 'V':
			o->action = ACTION_VERSION;
			return 0;
		case ':':
			return usage_error(err, errlen, argv[optind - 1], NULL,
					   "needs a value");
		default:
			return usage_error(err, errlen, "unknown option", argv[optind - 1],
					   "(see --help)");
		}
	}
	if (optind < argc)
		return usage_error(err, errlen, "unexpected argument", argv[optind],
				   "(see --help)");
	if (!channels_given) {
		o->channels[0] = DEFAULT_CHANNEL;
		o->nchannels = 1;
	}
	return 0;
}
