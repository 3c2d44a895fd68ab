/* SPDX-License-Identifier: PostgreSQL */
/* Builds the configuration: defaults < config file < environment < command line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sysexits.h>

#include <ini.h>

#include "config.h"
#include "escape.h"

struct file_reader {
	FILE *fp;
	const char *path;
	int line;		/* of the line last read */
	char *text;		/* the line, as getline() read it */
	size_t text_size;
	struct config *config;
	char *err;
	size_t errlen;
	bool failed;
};

static void
describe(char *err, size_t errlen, const char *where, const char *key, const char *value,
	 const char *why)
{
	char shown[ESCAPE_MAX_LEN(128)];

	/* A connection string may carry a password: never echo it. */
	if (strstr(key, "dbname") != NULL || strstr(key, "DBNAME") != NULL) {
		snprintf(err, errlen, "%s: %s %s", where, key, why);
		return;
	}
	escape_for_log(shown, sizeof(shown), value, strlen(value));
	snprintf(err, errlen, "%s: %s '%s' %s", where, key, shown, why);
}

/*
 * libinih's line reader, counting lines so that errors can name them.  libinih reads
 * at most size - 1 bytes of a line and would parse the rest as a new line (Debian's:
 * 199 bytes), silently cutting a value or echoing the rest of it (a password) in an
 * "unknown key" error; a NUL byte would cut it too.  Both are errors here, naming the
 * file and line and nothing of the line.
 */
static char *
read_line(char *buf, int size, void *stream)
{
	struct file_reader *r = stream;
	ssize_t len = getline(&r->text, &r->text_size, r->fp);
	size_t content;

	if (len < 0 || r->failed)
		return NULL;
	r->line++;
	if (memchr(r->text, '\0', (size_t) len) != NULL) {
		snprintf(r->err, r->errlen, "%s:%d: the line holds a NUL byte", r->path, r->line);
		r->failed = true;
		return NULL;
	}
	content = (size_t) len - (len > 0 && r->text[len - 1] == '\n');
	if (content + 2 > (size_t) size) {
		snprintf(r->err, r->errlen, "%s:%d: the line is longer than %d bytes, the most the "
			 "config file parser reads (a long dbname can go in CLUSTERED_NODES_DBNAME, or "
			 "in a libpq service file: dbname = service=NAME)", r->path, r->line, size - 2);
		r->failed = true;
		return NULL;
	}
	if ((r->text[0] == ' ' || r->text[0] == '\t') && r->text[strspn(r->text, " \t\r\n")] != '\0' &&
	    r->text[strspn(r->text, " \t")] != ';' && r->text[strspn(r->text, " \t")] != '#') {
		/* libinih would read it as more of the key above (its multi-line values), which
		 * a key's last value then silently becomes. */
		snprintf(r->err, r->errlen, "%s:%d: the line is indented: a key starts at the "
			 "beginning of its line", r->path, r->line);
		r->failed = true;
		return NULL;
	}
	memcpy(buf, r->text, (size_t) len + 1);
	return buf;
}

static int
on_ini_entry(void *user, const char *section, const char *key, const char *value)
{
	struct file_reader *r = user;
	const struct setting *s;
	char where[600];
	const char *why;

	if (r->failed)
		return 0;
	snprintf(where, sizeof(where), "%s:%d", r->path, r->line);
	if (section[0] != '\0' && strcmp(section, CONFIG_SECTION) != 0) {
		char shown[ESCAPE_MAX_LEN(64)];

		escape_for_log(shown, sizeof(shown), section, strnlen(section, 64));
		snprintf(r->err, r->errlen, "%s: unknown section [%s] (use [%s] or none)", where,
			 shown, CONFIG_SECTION);
		r->failed = true;
		return 0;
	}
	if ((s = setting_by_key(key)) == NULL) {
		char shown[ESCAPE_MAX_LEN(64)];

		escape_for_log(shown, sizeof(shown), key, strnlen(key, 64));
		snprintf(r->err, r->errlen, "%s: unknown key '%s'", where, shown);
		r->failed = true;
		return 0;
	}
	/* A key set twice: the last one wins, as in postgresql.conf and pgbouncer.ini (a
	 * setting appended to the end of the file takes effect). */
	if (!s->apply(r->config, value, &why)) {
		describe(r->err, r->errlen, where, key, value, why);
		r->failed = true;
		return 0;
	}
	return 1;
}

static int
load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	struct file_reader r = {.path = path, .config = c, .err = err, .errlen = errlen};
	struct stat st;
	int fd, rc;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer (SIGHUP runs on the loop). */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: cannot read the config file: %s%s", path, strerror(e),
			 e == EACCES && strcmp(path, CONFIG_DEFAULT_PATH) == 0 ?
			 " (read by default: run as root or a member of group clustered_nodes, or "
			 "name another with --config)" : "");
		return EX_CONFIG;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, S_ISDIR(st.st_mode) ? "%s: the config file is a directory" :
			 "%s: the config file is not a regular file", path);
		close(fd);
		return EX_CONFIG;
	}
	if ((r.fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot read the config file: %s", path, strerror(errno));
		close(fd);
		return EX_CONFIG;
	}
	rc = ini_parse_stream(read_line, &r, on_ini_entry, &r);
	fclose(r.fp);
	free(r.text);
	if (r.failed)
		return EX_CONFIG;
	if (rc != 0) {
		snprintf(err, errlen, "%s:%d: syntax error (expected key = value, or [%s])", path,
			 rc > 0 ? rc : r.line, CONFIG_SECTION);
		return EX_CONFIG;
	}
	return 0;
}

static int
load_environment(struct config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < settings_count; i++) {
		char name[64];
		const char *value, *why;
		size_t k;

		k = (size_t) snprintf(name, sizeof(name), "%s", ENV_PREFIX);
		for (const char *p = settings[i].key; *p && k + 1 < sizeof(name); p++)
			name[k++] = (char) toupper((unsigned char) *p);
		name[k] = '\0';
		if ((value = getenv(name)) == NULL)
			continue;
		if (!settings[i].apply(c, value, &why)) {
			describe(err, errlen, "environment", name, value, why);
			return EX_CONFIG;
		}
	}
	return 0;
}

static int
load_command_line(struct config *c, const struct cli *a, char *err, size_t errlen)
{
	const char *why;

	for (int i = 0; i < a->nvalues; i++) {
		const struct setting *s = a->values[i].setting;
		char option[48];

		if (s->apply(c, a->values[i].text, &why))
			continue;
		snprintf(option, sizeof(option), "--%s", s->key);
		for (char *p = option; *p; p++)
			if (*p == '_')
				*p = '-';
		describe(err, errlen, "command line", option, a->values[i].text, why);
		return EX_USAGE;
	}
	if (a->nchannels > 0 && !config_set_channels(c, a->channels, a->nchannels, &why)) {
		snprintf(err, errlen, "command line: --listen %s", why);
		/* Name the offending channel when a single one is at fault. */
		for (int i = 0; i < a->nchannels; i++) {
			const char *one = channel_problem(a->channels[i]);

			if (one) {
				describe(err, errlen, "command line", "--listen", a->channels[i], one);
				break;
			}
		}
		return EX_USAGE;
	}
	return 0;
}

/* Settings that are valid alone but not together. */
static int
check_together(const struct config *c, char *err, size_t errlen)
{
	if (c->acquire == ACQUIRE_WAIT && c->lease_timeout_ms == 0) {
		/* The lock goes to the first waiter in the queue: if that process is stopped,
		 * only eviction gets it back. */
		snprintf(err, errlen, "acquire = wait needs lease_timeout: a stopped standby granted "
			 "the lock would block failover forever (set lease_timeout, or acquire = poll)");
		return EX_CONFIG;
	}
	return 0;
}

int
config_load(struct config *c, const struct cli *a, char *err, size_t errlen)
{
	const char *path = a->config_path ? a->config_path : getenv(ENV_PREFIX "CONFIG");
	int rc;

	/* The package's file, when neither names one: `status` and `--check` by hand see
	 * what the service runs with (CLUSTERED_NODES_CONFIG= empty: no file at all). */
	if (path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;

	if (!config_init(c)) {
		snprintf(err, errlen, "out of memory");
		return EX_SOFTWARE;
	}
	if (path != NULL && path[0] != '\0' && (rc = load_file(c, path, err, errlen)) != 0)
		return rc;
	if ((rc = load_environment(c, err, errlen)) != 0)
		return rc;
	if ((rc = load_command_line(c, a, err, errlen)) != 0)
		return rc;
	return check_together(c, err, errlen);
}

bool
config_init(struct config *c)
{
	char host[256];
	const char *why;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < settings_count; i++)
		if (settings[i].default_value != NULL &&
		    !settings[i].apply(c, settings[i].default_value, &why))
			return false;
	/* The node name defaults to the short host name, if that is a valid name. */
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, ".")] = '\0';
	return setting_by_key("node")->apply(c, name_problem(host) == NULL ? host : "node", &why);
}

void
config_free(struct config *c)
{
	free(c->node);
	free(c->dbname);
	free(c->cluster);
	free(c->http);
	free(c->http_hosts);
	free(c->handler_sql);
	free(c->handler_exec);
	for (int i = 0; i < c->nchannels; i++)
		free(c->channels[i]);
	memset(c, 0, sizeof(*c));
}
