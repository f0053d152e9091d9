# Reference values of R's ptukey and qtukey (nmath ptukey.c / qtukey.c) for tests/test_tukey.py.
# Run from this directory: Rscript make_tukey.R  (writes tukey.json)
library(jsonlite)

nmeans <- c(2, 3, 4, 5, 6.5, 7, 10, 15, 20, 30, 50, 75, 100)
df <- c(2, 2.5, 3, 5, 10, 20, 50, 99.5, 100, 100.5, 150, 800, 801, 2000, 5000, 5001,
        10000, 25000, 25001, 1e5, 1e6, Inf)
q <- c(0, 0.01, 0.1, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 10, 12, 15, 20,
       30, 50, 100)
g <- expand.grid(q = q, nmeans = nmeans, df = df, nranges = 1)
# a few nranges > 1 (the maximum of several ranges)
g2 <- expand.grid(q = c(0.5, 2, 3, 4, 5, 7, 10), nmeans = c(2, 5, 20), df = c(3, 30, 1000, Inf),
                  nranges = c(2, 5))
g <- rbind(g, g2)
p_lower <- with(g, ptukey(q, nmeans, df, nranges))
p_upper <- with(g, ptukey(q, nmeans, df, nranges, lower.tail = FALSE))
logp_lower <- with(g, ptukey(q, nmeans, df, nranges, log.p = TRUE))

qp <- c(0.001, 0.01, 0.05, 0.1, 0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999)
qg <- expand.grid(p = qp, nmeans = c(2, 3, 5, 6.5, 10, 20, 50, 100),
                  df = c(2, 3, 5, 10, 20, 50, 100, 120, 150, 1000, 5001, 30000, 1e6, Inf),
                  nranges = 1)
qg2 <- expand.grid(p = c(0.05, 0.95), nmeans = c(3, 10), df = c(5, 60, Inf), nranges = c(2, 4))
qg <- rbind(qg, qg2)
q_lower <- with(qg, qtukey(p, nmeans, df, nranges))
q_upper <- with(qg, qtukey(p, nmeans, df, nranges, lower.tail = FALSE))

# numbers to 17 significant digits (jsonlite stops at 15); non-finite ones as strings
num <- function(x) {
  s <- ifelse(is.finite(x), sprintf("%.17g", x), paste0('"', as.character(x), '"'))
  structure(paste0("[", paste(s, collapse = ","), "]"), class = "json")
}
out <- list(
  r_version = R.version.string,
  note = paste("ptukey and qtukey of R (17 significant digits); non-finite numbers are the",
               "strings Inf, -Inf, NaN; upper is lower.tail = FALSE at the same q or p; R warns",
               "(precision or convergence) for some of these and the values are what R returns"),
  ptukey = list(q = num(g$q), nmeans = num(g$nmeans), df = num(g$df), nranges = num(g$nranges),
                lower = num(p_lower), upper = num(p_upper), log_lower = num(logp_lower)),
  qtukey = list(p = num(qg$p), nmeans = num(qg$nmeans), df = num(qg$df), nranges = num(qg$nranges),
                lower = num(q_lower), upper = num(q_upper))
)
writeLines(toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE), "tukey.json")
