// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat: which processes keep how much shared-buffer (dma-buf) memory
 * alive.  Reads the memtrack netlink family, or scans procfs on kernels
 * without it.  See mtstat(1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <memtrack-nl.h>

#include "mtstat.h"

#ifndef MTSTAT_VERSION
#define MTSTAT_VERSION "unknown"
#endif

static void usage(FILE *out)
{
	fprintf(out,
"usage: mtstat [options]             every process holding buffers\n"
"       mtstat -p PID[,PID...]       one row per buffer of these processes\n"
"       mtstat -b                    every buffer in the system\n"
"       mtstat -b ID...              these buffers, with every holder\n"
"\n"
"options:\n"
"  -p, --pid PID[,PID...]   show these processes\n"
"  -b, --buffers            list system-wide buffers (needs CAP_SYS_ADMIN\n"
"                           and CAP_NET_ADMIN)\n"
"  -N, --name NAME          only buffers named NAME (the dma-buf name)\n"
"  -e, --exporter NAME      only buffers from exporter NAME\n"
"  -u, --user USER          only processes of USER (name or uid)\n"
"      --by-name            break process totals down by buffer name\n"
"      --by-exporter        break process totals down by exporter\n"
"      --by-user            one row per user, with a total row (as smem -u)\n"
"      --by-cgroup          one row per cgroup (containers, services)\n"
"      --prometheus         Prometheus text format, for node_exporter\n"
"      --file PATH          write each snapshot to PATH atomically, a new\n"
"                           file renamed over it (with -i: a textfile\n"
"                           collector's .prom file)\n"
"  -s, --sort [-]FIELD      pid comm bufs fds total pss unique mapped hwm\n"
"                           (processes), id size exporter name holders\n"
"                           (buffers; with -p also fds handles mapped);\n"
"                           -FIELD reverses\n"
"  -r, --reverse            reverse the sort\n"
"  -n, --top N              only the first N rows\n"
"  -o, --output LIST        text columns, e.g. pid,comm,total (the -s names)\n"
"      --no-headers         rows only: no header line, no summary\n"
"  -j, --json               JSON output, raw integers, every field\n"
"      --pretty             indented JSON (implies --json)\n"
"      --bytes              raw byte counts instead of KiB/MiB/GiB\n"
"  -i, --interval SECONDS   repeat every SECONDS\n"
"  -c, --count N            stop after N repetitions (with -i)\n"
"      --source SOURCE      netlink or procfs (default: netlink, falling\n"
"                           back to procfs when the kernel lacks memtrack)\n"
"  -w, --watch              live event stream (CAP_NET_ADMIN and CAP_SYS_ADMIN)\n"
"      --rcvbuf BYTES       --watch socket buffer (default 4 MiB); smaller\n"
"                           buffers lose events in bursts, then resync\n"
"  -h, --help               this help\n"
"  -V, --version            tool, library and family versions\n"
"\n"
"examples:\n"
"  mtstat                     who holds the most dma-buf memory\n"
"  mtstat -p 1234 --by-name   one process, per buffer and per name\n"
"  mtstat -b -s holders       buffers, most shared first\n"
"  mtstat -j | jq .summary    machine-readable\n"
"  mtstat -w -N camera        follow camera buffers as they come and go\n"
"\n"
"exit status: 0 ok, 1 usage, 2 pid or buffer id not found,\n"
"             3 permission denied (a pid you may not read too),\n"
"             4 no source available, 5 other errors\n");
}

static int parse_pids(const char *arg, uint32_t **pids, size_t *n)
{
	char *copy = strdup(arg), *tok, *save = NULL;

	if (!copy)
		return -1;
	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v;
		uint32_t *np;

		errno = 0;
		v = strtoul(tok, &end, 10);
		if (errno || *end || !*tok || v == 0 || v > INT_MAX) {
			fprintf(stderr, "mtstat: invalid pid '%s'\n", tok);
			free(copy);
			return -1;
		}
		np = realloc(*pids, (*n + 1) * sizeof(*np));
		if (!np) {
			free(copy);
			return -1;
		}
		*pids = np;
		(*pids)[(*n)++] = (uint32_t)v;
	}
	free(copy);
	if (!*n) {
		fprintf(stderr, "mtstat: -p needs at least one pid\n");
		return -1;
	}
	return 0;
}

static int parse_user(const char *arg, uid_t *uid)
{
	struct passwd *pw = getpwnam(arg);
	char *end;
	unsigned long v;

	if (pw) {
		*uid = pw->pw_uid;
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || !*arg) {
		fprintf(stderr, "mtstat: unknown user '%s'\n", arg);
		return -1;
	}
	*uid = (uid_t)v;
	return 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *advice(int code, const char *source)
{
	switch (code) {
	case MTSTAT_EPERM:
		if (!strcmp(source, "procfs"))
			return "procfs shows a process's buffers to callers that may read its "
			       "/proc/PID/fdinfo (ptrace read access: same user and dumpable, "
			       "or CAP_SYS_PTRACE). Run as that user or as root.";
		return "memtrack shows a process to callers that may read its "
		       "/proc/PID/fdinfo (ptrace read access: same user and dumpable, "
		       "or CAP_SYS_PTRACE); the buffer list needs CAP_SYS_ADMIN and CAP_NET_ADMIN. "
		       "Run as that user or as root.";
	case MTSTAT_EUNAVAIL:
		if (!strcmp(source, "procfs"))
			return "procfs must be mounted on /proc.";
		return "boot a kernel with CONFIG_MEMTRACK=y (and without memtrack=off), "
		       "or use --source=procfs.";
	default:
		return NULL;
	}
}

/* Sleep @interval seconds, or until a signal sets *@stop. */
static void sleep_interval(double interval, volatile sig_atomic_t *stop)
{
	struct timespec ts = {
		.tv_sec = (time_t)interval,
		.tv_nsec = (long)((interval - (double)(time_t)interval) * 1e9),
	};

	while (!*stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* What the command line asked for. */
struct mt_args {
	struct mt_filter filter;
	struct mt_output out;
	const char *source;	/* NULL: netlink, or procfs without it */
	const char *columns;	/* -o */
	const char *file;	/* --file */
	bool buffers, watch, rcvbuf_set, by_user, by_cgroup, prometheus;
	double interval;
	long count;
	uint32_t *pids;
	size_t npids;
	uint64_t *ids;		/* -b ID... */
	size_t nids;
	enum mt_view view;
};

static void print_version(void)
{
	struct mtnl *h;

	printf("mtstat %s\nlibmemtrack-nl %s (family version %d)\n",
	       MTSTAT_VERSION, mtnl_version(), MTNL_FAMILY_VERSION);
	if (mtnl_open(&h) == 0) {
		printf("kernel memtrack family version %u\n", mtnl_family_version(h));
		mtnl_close(h);
	} else {
		printf("kernel memtrack family: not available\n");
	}
}

/* A number from @min to @max (whole with @whole), or -1 after saying @what. */
static int parse_number(const char *what, const char *arg, double min,
			double max, bool whole, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(arg, &end);
	if (errno || *end || !*arg || !(*v >= min) || *v > max ||
	    (whole && *v != (double)(long long)*v)) {
		fprintf(stderr, "mtstat: %s, not '%s'\n", what, arg);
		return -1;
	}
	return 0;
}

/* -b ID...: the buffer ids after the options. */
static int parse_ids(struct mt_args *a, int argc, char **argv)
{
	for (; optind < argc; optind++) {
		unsigned long long v;
		uint64_t *nb;
		char *end;

		errno = 0;
		v = strtoull(argv[optind], &end, 10);
		if (!a->buffers || errno || *end || !*argv[optind] || !v) {
			fprintf(stderr, "mtstat: unexpected argument '%s' (-b takes buffer ids; try --help)\n",
				argv[optind]);
			return MTSTAT_EUSAGE;
		}
		nb = realloc(a->ids, (a->nids + 1) * sizeof(*nb));
		if (!nb)
			return MTSTAT_EFAIL;
		a->ids = nb;
		a->ids[a->nids++] = v;
	}
	return MTSTAT_OK;
}

/*
 * Read the options into @a.  Returns -1 to go on, or the exit status
 * (after --help, -V or a usage error).
 */
static int parse_args(struct mt_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "buffers", no_argument, NULL, 'b' },
		{ "name", required_argument, NULL, 'N' },
		/* The first revision's spellings, kept out of --help. */
		{ "tag", required_argument, NULL, 'N' },	/* alias of --name */
		{ "exporter", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },
		{ "by-name", no_argument, NULL, 'T' },
		{ "by-tag", no_argument, NULL, 'T' },	/* alias of --by-name */
		{ "by-exporter", no_argument, NULL, 'E' },
		{ "sort", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'P' },
		{ "bytes", no_argument, NULL, 'B' },
		{ "output", required_argument, NULL, 'o' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "top", required_argument, NULL, 'n' },
		{ "no-headers", no_argument, NULL, 'H' },
		{ "by-user", no_argument, NULL, 'U' },
		{ "by-cgroup", no_argument, NULL, 'G' },
		{ "prometheus", no_argument, NULL, 'M' },
		{ "file", required_argument, NULL, 'F' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "source", required_argument, NULL, 'S' },
		{ "watch", no_argument, NULL, 'w' },
		{ "rcvbuf", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	double v;
	int opt;

	while ((opt = getopt_long(argc, argv, "p:bN:t:e:u:s:ji:c:whVo:rn:", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_pids(optarg, &a->pids, &a->npids))
				return MTSTAT_EUSAGE;
			break;
		case 'b': a->buffers = true; break;
		case 'N':
		case 't': a->filter.name = optarg; break;
		case 'e': a->filter.exporter = optarg; break;
		case 'u':
			if (parse_user(optarg, &a->filter.uid))
				return MTSTAT_EUSAGE;
			a->filter.has_uid = true;
			break;
		case 'T': a->out.by_name = true; break;
		case 'E': a->out.by_exporter = true; break;
		case 's': a->out.sort = optarg; break;
		case 'j': a->out.json = true; break;
		case 'P': a->out.json = a->out.pretty = true; break;
		case 'o': a->columns = optarg; break;
		case 'r': a->out.reverse = true; break;
		case 'H': a->out.no_headers = true; break;
		case 'U': a->by_user = true; break;
		case 'G': a->by_cgroup = true; break;
		case 'M': a->prometheus = true; break;
		case 'F': a->file = optarg; break;
		case 'B': a->out.bytes = true; break;
		case 'w': a->watch = true; break;
		case 'n':
			if (parse_number("-n wants a positive whole number of rows",
					 optarg, 1, 1e9, true, &v))
				return MTSTAT_EUSAGE;
			a->out.top = (size_t)v;
			break;
		case 'i':
			if (parse_number("invalid interval: -i wants seconds, more than 0",
					 optarg, 1e-3, 1e9, false, &a->interval))
				return MTSTAT_EUSAGE;
			break;
		case 'c':
			if (parse_number("invalid count: -c wants a positive whole number",
					 optarg, 1, 1e12, true, &v))
				return MTSTAT_EUSAGE;
			a->count = (long)v;
			break;
		case 'S':
			if (strcmp(optarg, "netlink") && strcmp(optarg, "procfs")) {
				fprintf(stderr, "mtstat: --source must be netlink or procfs\n");
				return MTSTAT_EUSAGE;
			}
			a->source = optarg;
			break;
		case 'R':
			if (parse_number("--rcvbuf wants bytes from 1024 to 1073741824",
					 optarg, 1024, 1 << 30, true, &v))
				return MTSTAT_EUSAGE;
			a->out.rcvbuf = (int)v;
			a->rcvbuf_set = true;
			break;
		case 'h':
			usage(stdout);
			return MTSTAT_OK;
		case 'V':
			print_version();
			return MTSTAT_OK;
		default:
			/* getopt said what was wrong; one line, not the whole help. */
			fprintf(stderr, "Try 'mtstat --help' for more information.\n");
			return MTSTAT_EUSAGE;
		}
	}
	return parse_ids(a, argc, argv) ?: -1;
}

static bool usage_error(const char *msg)
{
	fprintf(stderr, "mtstat: %s\n", msg);
	return true;
}

/* The options that do not go together; true after saying why. */
static bool args_conflict(const struct mt_args *a)
{
	const struct mt_output *o = &a->out;
	bool procfs = a->source && !strcmp(a->source, "procfs");

	if (a->nids && (a->columns || o->sort || o->top || o->by_name ||
			o->by_exporter || procfs || a->file || a->filter.name ||
			a->filter.exporter || a->filter.has_uid))
		return usage_error("-b ID shows whole buffers from netlink: no -o, -s, -n, -N, -e, -u, --by-name, --by-exporter, --file or --source=procfs");
	/* One view; --prometheus takes -p to limit its series. */
	if (a->by_user + a->by_cgroup + a->buffers + a->prometheus +
	    (a->pids && !a->prometheus) > 1)
		return usage_error("-b, -p, --by-user, --by-cgroup and --prometheus are different views; pick one (--prometheus takes -p)");
	if (a->prometheus && (o->json || a->columns || o->sort || o->top || o->no_headers))
		return usage_error("--prometheus has its own format: no -j, -o, -s, -n or --no-headers");
	if ((a->by_user || a->by_cgroup) &&
	    (o->by_name || o->by_exporter || a->columns || o->sort))
		return usage_error("--by-user and --by-cgroup sort by bytes held and take no -o, -s, --by-name or --by-exporter");
	if (a->file && a->watch)
		return usage_error("--file writes snapshots; --watch streams to standard output");
	if (o->by_name && o->by_exporter)
		return usage_error("--by-name and --by-exporter exclude each other");
	if (a->count > 0 && a->interval <= 0)
		return usage_error("-c needs -i");
	if (a->watch && (a->buffers || a->interval > 0 || procfs))
		return usage_error("--watch streams netlink events; it does not combine with -b, -i or --source=procfs");
	if (a->rcvbuf_set && !a->watch)
		return usage_error("--rcvbuf only applies to --watch");
	if (a->buffers && procfs)
		return usage_error("procfs cannot list buffers no process holds; -b needs --source=netlink");
	return false;
}

/* Check what depends on the view: -s and -o name its columns. */
static int check_view(struct mt_args *a)
{
	char err[128];

	a->view = a->buffers ? MT_VIEW_BUFFERS : a->pids ? MT_VIEW_PIDS :
		  MT_VIEW_PROCESSES;
	if (a->out.sort && !mt_sort_field_valid(a->out.sort, a->view)) {
		fprintf(stderr, "mtstat: cannot sort %s by '%s' (try --help)\n",
			a->view == MT_VIEW_PROCESSES ? "processes" : "buffers",
			a->out.sort);
		return MTSTAT_EUSAGE;
	}
	if (a->columns && mt_columns_parse(a->columns, a->view, &a->out, err,
					   sizeof(err))) {
		fprintf(stderr, "mtstat: -o %s: %s (try --help)\n", a->columns, err);
		return MTSTAT_EUSAGE;
	}
	return MTSTAT_OK;
}

/* Netlink if the kernel has memtrack; procfs, said so, for the views it can serve. */
static int choose_source(struct mt_args *a)
{
	if (a->source)
		return MTSTAT_OK;
	if (mt_netlink_available()) {
		a->source = "netlink";
	} else if (a->buffers || a->watch) {
		/* No procfs stand-in: one message, and why. */
		fprintf(stderr, "mtstat: %s needs the memtrack family: %s\n",
			a->buffers ? "-b" : "--watch", mtnl_strerror(-ENOENT));
		return MTSTAT_EUNAVAIL;
	} else {
		a->source = "procfs";
		fprintf(stderr, "mtstat: this kernel has no memtrack family; "
				"scanning procfs instead (slower, racy, no kernel-only buffers)\n");
	}
	return MTSTAT_OK;
}

static int run_watch(struct mt_args *a)
{
	size_t i;
	int ret;

	/* Following a pid that is not there would print nothing, ever. */
	for (i = 0; i < a->npids; i++) {
		char err[512];

		ret = mt_pid_check(a->pids[i], err, sizeof(err));
		if (ret) {
			fprintf(stderr, "mtstat: %s\n", err);
			return ret;
		}
	}
	return mt_watch(&a->out, &a->filter, &stop);
}

/* A full disk or a closed pipe is a failure, not a success. */
static int check_stdout(void)
{
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "mtstat: write error: %s\n", strerror(errno));
		return MTSTAT_EFAIL;
	}
	return MTSTAT_OK;
}

/*
 * What the view needs from the kernel.  -b is the buffer list alone;
 * -p (also with --prometheus) is those processes alone, since the kernel
 * computes the sharing figures; the process list and the owner and
 * Prometheus views without -p read every process, and the buffer list
 * for the kernel-only buffers they report.  The plain process list may
 * read the processes' figures alone (MT_WANT_FIGURES).
 */
static unsigned int snapshot_needs(const struct mt_args *a)
{
	if (a->buffers)
		return MT_WANT_SYSTEM;
	if (a->pids)
		return MT_WANT_PROCS;
	/*
	 * The process list shows figures, not buffers, unless it groups
	 * them (--by-name, --by-exporter) or sums the buffers of some
	 * processes only (-u); the owner and Prometheus views sum buffers.
	 */
	if (!a->by_user && !a->by_cgroup && !a->prometheus &&
	    !a->out.by_name && !a->out.by_exporter && !a->filter.has_uid)
		return MT_WANT_PROCS | MT_WANT_SYSTEM | MT_WANT_FIGURES;
	return MT_WANT_PROCS | MT_WANT_SYSTEM;
}

/* One snapshot from the source, checked; an MTSTAT_* code. */
static int take_snapshot(const struct mt_args *a, struct mt_snapshot *snap)
{
	char err[512] = "";
	int ret;

	if (!strcmp(a->source, "netlink"))
		ret = mt_source_netlink(snap, &a->filter, snapshot_needs(a),
					err, sizeof(err));
	else
		ret = mt_source_procfs(snap, &a->filter, err, sizeof(err));
	if (ret) {
		const char *hint = advice(ret, a->source);

		fprintf(stderr, "mtstat: %s\n", err);
		if (hint)
			fprintf(stderr, "mtstat: %s\n", hint);
		mt_snapshot_free(snap);
		return ret;
	}
	if (a->buffers && !snap->has_system) {
		fprintf(stderr, "mtstat: listing every buffer needs CAP_SYS_ADMIN and CAP_NET_ADMIN\n");
		mt_snapshot_free(snap);
		return MTSTAT_EPERM;
	}
	mt_snapshot_finish(snap, &a->filter);
	/* An asked-for pid is shown, or said to be missing: never silently absent. */
	if (a->pids && (ret = mt_snapshot_check_pids(snap, &a->filter, err, sizeof(err)))) {
		fprintf(stderr, "mtstat: %s\n", err);
		mt_snapshot_free(snap);
		return ret;
	}
	return MTSTAT_OK;
}

/* 0, or MTSTAT_EFAIL after saying why. */
static int print_snapshot(FILE *sink, const struct mt_args *a,
			  const struct mt_snapshot *snap)
{
	int ret;

	if (a->prometheus)
		ret = mt_print_prometheus(sink, snap, &a->out);
	else if (a->by_user || a->by_cgroup)
		ret = mt_print_owners(sink, snap, &a->out,
				      a->by_user ? MT_BY_USER : MT_BY_CGROUP);
	else if (a->buffers)
		ret = mt_print_buffers(sink, snap, &a->out);
	else if (a->pids)
		ret = mt_print_pids(sink, snap, &a->out);
	else
		ret = mt_print_processes(sink, snap, &a->out);
	if (ret) {
		fprintf(stderr, "mtstat: out of memory\n");
		return MTSTAT_EFAIL;
	}
	return MTSTAT_OK;
}

/*
 * Print @snap to --file: into a new file in the same directory, then
 * rename() over PATH, so that readers (node_exporter) see the old file or
 * the new one, never a part.  The temporary file goes on any failure.
 */
static int write_file(const struct mt_args *a, const struct mt_snapshot *snap)
{
	const char *what = "creating a temporary file for";
	char *tmp = NULL;
	FILE *f = NULL;
	int fd = -1, err = 0, ret;

	if (asprintf(&tmp, "%s.XXXXXX", a->file) < 0) {
		fprintf(stderr, "mtstat: out of memory\n");
		return MTSTAT_EFAIL;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		free(tmp);
		fprintf(stderr, "mtstat: %s %s: %s\n", what, a->file, strerror(err));
		return MTSTAT_EFAIL;
	}
	/* mkstemp() makes it 0600: a collector may run as another user. */
	what = "writing";
	if (fchmod(fd, 0644)) {
		err = errno;
		goto fail;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = errno;
		goto fail;
	}
	fd = -1;	/* f owns it */
	ret = print_snapshot(f, a, snap);
	if (ret) {
		fclose(f);
		unlink(tmp);
		free(tmp);
		return ret;
	}
	if (fflush(f)) {
		err = errno;
		goto fail;
	}
	if (ferror(f)) {	/* an earlier write failed; its errno is gone */
		err = EIO;
		goto fail;
	}
	if (fsync(fileno(f))) {
		err = errno;
		goto fail;
	}
	ret = fclose(f);
	f = NULL;
	if (ret) {
		err = errno;
		goto fail;
	}
	what = "replacing";
	if (rename(tmp, a->file)) {
		err = errno;
		goto fail;
	}
	free(tmp);
	return MTSTAT_OK;
fail:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	fprintf(stderr, "mtstat: %s %s: %s\n", what, a->file, strerror(err));
	return MTSTAT_EFAIL;
}

/* One round of a snapshot view. */
static int run_round(const struct mt_args *a, long round)
{
	struct mt_snapshot snap;
	char err[512];
	int ret;

	if (a->nids) {
		ret = mt_print_buffer_ids(stdout, a->ids, a->nids, &a->out, err,
					  sizeof(err));
		if (ret)
			fprintf(stderr, "mtstat: %s\n", err);
		return ret ?: check_stdout();
	}
	ret = take_snapshot(a, &snap);
	if (ret)
		return ret;
	if (a->file) {
		ret = write_file(a, &snap);
	} else {
		if (a->interval > 0 && !a->out.json && !a->prometheus) {
			time_t now = time(NULL);
			char ts[32];

			strftime(ts, sizeof(ts), "%F %T", localtime(&now));
			printf("%s--- %s (%s)\n", round ? "\n" : "", ts, snap.source);
		}
		ret = print_snapshot(stdout, a, &snap);
	}
	mt_snapshot_free(&snap);
	return ret ?: check_stdout();
}

static int run_snapshots(const struct mt_args *a)
{
	long round;
	int ret = MTSTAT_OK;

	for (round = 0; !stop; round++) {
		ret = run_round(a, round);
		if (ret || a->interval <= 0 || (a->count > 0 && round + 1 >= a->count))
			break;
		sleep_interval(a->interval, &stop);
	}
	return ret;
}

static int mtstat_main(int argc, char **argv)
{
	/* A large buffer rides out bursts of events without loss. */
	struct mt_args a = { .out = { .rcvbuf = 4 << 20 }, .count = -1 };
	int ret;

	ret = parse_args(&a, argc, argv);
	if (ret >= 0)		/* --help, -V, or a usage error */
		goto out;
	if (args_conflict(&a)) {
		ret = MTSTAT_EUSAGE;
		goto out;
	}
	ret = check_view(&a);
	if (ret)
		goto out;
	a.filter.pids = a.pids;
	a.filter.npids = a.npids;
	ret = choose_source(&a);
	if (ret)
		goto out;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ret = a.watch ? run_watch(&a) : run_snapshots(&a);
out:
	free(a.pids);
	free(a.ids);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = mtstat_main(argc, argv);

	/* Whatever was written, --help and -V included, must have arrived. */
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "mtstat: write error: %s\n", strerror(errno));
		if (ret == MTSTAT_OK)
			ret = MTSTAT_EFAIL;
	}
	return ret;
}
