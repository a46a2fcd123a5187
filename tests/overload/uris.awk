# tests/overload/uris.awk: realistic searches drawn from the legs flightsearch-gen wrote as CSV
# (--csv: source,carrier,flight,origin,destination,dep_local,...,cabin,seats,...).
#
#   awk -F, -v seed=1 -v count=2000 -f uris.awk legs.csv > paths.txt
#
# A leg-cabin row is drawn uniformly, so busy routes and dates are asked more often, as users do.
# Each row gives one search on its route and date: 50% every cabin, 20% that row's cabin with
# seats=2, 20% a three-day range in economy, 10% sorted by departure with limit=10. Every one is
# a valid query (the run asks each once and requires 200); some find nothing, as real ones do.
function leap(y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }
function mdays(y, m) { return m == 2 ? 28 + leap(y) : (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31 }
function add_days(d, n,    y, m, dd) {
    y = substr(d, 1, 4) + 0; m = substr(d, 6, 2) + 0; dd = substr(d, 9, 2) + 0
    for (; n > 0; n--) {
        dd++
        if (dd > mdays(y, m)) { dd = 1; m++ }
        if (m > 12) { m = 1; y++ }
    }
    return sprintf("%04d-%02d-%02d", y, m, dd)
}
NR > 1 && $14 + 0 > 0 {
    n++
    org[n] = $4; dst[n] = $5; day[n] = substr($6, 1, 10); cab[n] = $13
}
END {
    srand(seed)
    for (i = 0; i < count && n > 0; i++) {
        r = 1 + int(rand() * n)
        if (r > n) r = n
        q = "origin=" org[r] "&destination=" dst[r]
        k = rand()
        if (k < 0.5)
            print "/v1/search?" q "&date=" day[r]
        else if (k < 0.7)
            print "/v1/search?" q "&date=" day[r] "&cabin=" cab[r] "&seats=2"
        else if (k < 0.9)
            print "/v1/search?" q "&start_date=" day[r] "&end_date=" add_days(day[r], 2) "&cabin=economy"
        else
            print "/v1/search?" q "&date=" day[r] "&sort=departure&limit=10"
    }
}
