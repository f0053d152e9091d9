# lme4/lmerTest/emmeans on ordered factors given as data columns (R's ordered(), pandas'
# Categorical(ordered=True)): polynomial contrasts. For tests/reference/test_ordered.py:
#   cd tests/reference/ordered && Rscript make_ordered.R ../../../../shared/data
suppressPackageStartupMessages({library(lmerTest); library(emmeans); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args)) args[[1]] else "../../../../shared/data"
d <- data.frame(g = rep(LETTERS[1:6], each = 6), o = rep(c("lo", "mid", "hi"), 12))
d$y <- round(sin(1:36) + (d$o == "hi"), 10)
d$o <- factor(d$o, levels = c("lo", "mid", "hi"), ordered = TRUE)
write.csv(d, "small.csv", row.names = FALSE)
cake <- read.csv(file.path(data_dir, "cake.csv"))
cake$temperature <- factor(cake$temperature, levels = sort(unique(cake$temperature)), ordered = TRUE)
cake$recipe <- factor(cake$recipe)
cake$replicate <- factor(cake$replicate)
fit <- function(m, nd) {
  e <- summary(emmeans(m, names(nd)[1]))
  list(fixef = as.list(fixef(m)), reml = REMLcrit(m), theta = unname(getME(m, "theta")),
       anova3 = list(F = unname(anova(m, type = 3)[["F value"]]), df = unname(anova(m, type = 3)[["DenDF"]])),
       emmeans = list(emmean = e$emmean, SE = e$SE, df = e$df),
       predict = unname(predict(m, newdata = nd)))
}
out <- list(
  lme4 = as.character(packageVersion("lme4")),
  small = fit(lmer(y ~ o + (1 | g), d), data.frame(o = c("hi", "lo"), g = c("A", "B"))),
  cake = fit(lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake),
             data.frame(temperature = c("175", "225"), recipe = c("A", "C"), replicate = c("1", "2")))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "ordered.json")
