# bench/peers/sql.sh — the SQL of the queries for PostgreSQL and DuckDB
# (sourced by bench/suite.sh; both run the same text).
#
# The funnel is exact, with spoor's semantics (docs/api.md): an actor's level
# is the longest chain e1 < e2 < ... of events matching steps 1..k in (ts,
# arrival) order with ek.ts - e1.ts <= window; steps[k] = actors with level
# >= k.  From a signup e1 the chain that takes, step after step, the earliest
# matching event after the previous one is the longest that starts at e1 (any
# other chain's k-th event is no earlier).  Window functions find it in one
# pass over the step events: t4 = time of the first purchase after a row; at
# a row, c3/c4 = time and t4 of the first checkout after it; b2/b3/b4 = time,
# c3 and c4 of the first add_to_cart after it.  "The first after" is a min
# over the following rows because these values never decrease along an
# actor's rows.  Arrival order among equal timestamps is gen's id (it numbers
# the events in file order).  The breakdown takes, like spoor, the url of the
# first event of the counted chain: among the starts reaching the actor's
# level, the latest.  (A first version joined step to step; PostgreSQL's
# estimates for filtered CTE scans made those joins nested loops, 100x
# slower.)

STEPS_IN="('signup', 'add_to_cart', 'checkout', 'purchase')"

# sql_chain A: the CTEs up to lv (one row per signup: its level).
sql_chain() {
	local a=$1 f="PARTITION BY a ORDER BY ts, id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING"
	cat <<SQL
WITH s AS (SELECT $a AS a, ts, id, type, url FROM ev WHERE type IN $STEPS_IN AND $a IS NOT NULL),
w4 AS (SELECT *, min(CASE WHEN type = 'purchase' THEN ts END) OVER f AS t4
  FROM s WINDOW f AS ($f)),
w3 AS (SELECT *, min(CASE WHEN type = 'checkout' THEN ts END) OVER f AS c3,
  min(CASE WHEN type = 'checkout' THEN t4 END) OVER f AS c4
  FROM w4 WINDOW f AS ($f)),
w2 AS (SELECT *, min(CASE WHEN type = 'add_to_cart' THEN ts END) OVER f AS b2,
  min(CASE WHEN type = 'add_to_cart' THEN c3 END) OVER f AS b3,
  min(CASE WHEN type = 'add_to_cart' THEN c4 END) OVER f AS b4
  FROM w3 WINDOW f AS ($f)),
lv AS (SELECT a, ts, id, url, 1 + (b2 IS NOT NULL AND b2 - ts <= $WINDOW)::int
  + (b3 IS NOT NULL AND b3 - ts <= $WINDOW)::int + (b4 IS NOT NULL AND b4 - ts <= $WINDOW)::int AS level
  FROM w2 WHERE type = 'signup')
SQL
}

# sql_query NAME: one query, as PostgreSQL and DuckDB both take it.
sql_query() {
	case "$1" in
	funnel_session | funnel_user)
		local a=session; [ "$1" = funnel_user ] && a='"user"'
		sql_chain "$a"
		echo "SELECT count(*) FILTER (WHERE level >= 1), count(*) FILTER (WHERE level >= 2),
  count(*) FILTER (WHERE level >= 3), count(*) FILTER (WHERE level >= 4)
FROM (SELECT a, max(level) AS level FROM lv GROUP BY a) act;" ;;
	funnel_breakdown)
		sql_chain session
		echo ", act AS (SELECT DISTINCT ON (a) a, level, url FROM lv ORDER BY a, level DESC, ts DESC, id DESC)
SELECT url, count(*) AS c1, count(*) FILTER (WHERE level >= 2),
  count(*) FILTER (WHERE level >= 3), count(*) FILTER (WHERE level >= 4)
FROM act GROUP BY url ORDER BY c1 DESC, url LIMIT 20;" ;;
	series)
		echo "SELECT ts - ts % 60000 AS m, count(*) AS c, count(DISTINCT session) AS s FROM ev
WHERE type = 'click' AND ts >= $SERIES_FROM AND ts < $SERIES_FROM + 86400000
GROUP BY m ORDER BY m;" ;;
	ties)
		echo "SELECT count(*) FROM (SELECT \"user\", ts FROM ev WHERE type IN $STEPS_IN
  AND \"user\" IS NOT NULL GROUP BY \"user\", ts HAVING count(*) > 1) t;" ;;
	replay) # one session: the suite substitutes :SESSION
		echo "SELECT * FROM ev WHERE session = ':SESSION' ORDER BY ts;" ;;
	*) die "sql_query: $1?" ;;
	esac
}
