# lme4's lmList on groups where a column is aliased (a factor level absent from a group, a column
# twice over), for tests/reference/test_lmlist.py.
#
#   cd tests/reference/lmlist && Rscript make_lmlist.R
#
# writes lmlist.csv (g the groups, x numeric, x2 = 2x, f a factor whose level "lo" group b lacks, h
# text whose first level group b lacks, k text of one level in group c, y) and lmlist.json: per
# formula, the coefficients by group (null where R gives NA: lm's aliased columns, in order,
# relative tolerance 1e-7, and a group whose fit fails). lmList fits lm to each group's rows, so
# scale(x) is the group's and a factor has the group's levels. The tests never run R.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
set.seed(3)
d <- data.frame(g = rep(c("a", "b", "c"), each = 8), x = round(rnorm(24), 6),
                f = rep(c("lo", "mid", "hi", "lo"), 6), stringsAsFactors = TRUE)
d$f[d$g == "b" & d$f == "lo"] <- "mid"
d$y <- round(rnorm(24) + d$x, 6)
d$x2 <- 2 * d$x
d$h <- rep(c("p", "q", "r"), 8)  # text: group b lacks its first level, "p" (lm's reference is then "q")
d$h[d$g == "b" & d$h == "p"] <- "q"
d$k <- rep(c("u", "v"), 12)  # group c has one level: no fit there (R: contrasts need 2 or more levels)
d$k[d$g == "c"] <- "u"
write.csv(d, "lmlist.csv", row.names = FALSE)
formulas <- c("y ~ x + f | g", "y ~ x + x2 + f | g", "y ~ x + h | g", "y ~ scale(x) | g", "y ~ x + k | g")
cases <- lapply(formulas, function(f) {
  co <- coef(suppressWarnings(lmList(as.formula(f), d)))
  list(formula = f, groups = I(rownames(co)), columns = I(colnames(co)),
       coef = lapply(seq_len(nrow(co)), function(i) I(unname(unlist(co[i, ])))))
})
writeLines(toJSON(list(lme4 = as.character(packageVersion("lme4")), cases = cases),
                  auto_unbox = TRUE, digits = I(15), pretty = TRUE, na = "null"), "lmlist.json")
