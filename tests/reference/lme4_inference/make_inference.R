# Reference values for inference (issue 4) from R / lme4 / lmerTest / pbkrtest:
# profile and Wald confidence intervals, likelihood-ratio anova tables, Kenward-Roger tests.
# Run from this folder: Rscript make_inference.R   (writes inference.json; ~1 minute)
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(pbkrtest); library(jsonlite)})
data_dir <- Sys.getenv("MM_DATA", "../../../python/mixedmodels/datasets/data")
sleep <- read.csv(file.path(data_dir, "sleepstudy.csv"), colClasses = c(Subject = "character"))
sleep$Subject <- factor(sleep$Subject, levels = unique(sleep$Subject))
hsb <- read.csv(file.path(data_dir, "Hsb82.csv"), colClasses = c(school = "character"))
hsb$school <- factor(hsb$school)
hsb$sector <- factor(hsb$sector, levels = c("Public", "Catholic"))
hsb$sx <- factor(hsb$sx, levels = c("Male", "Female"))

ci <- function(m, method) {
  x <- suppressMessages(suppressWarnings(confint(m, method = method, oldNames = TRUE)))
  list(names = rownames(x), lower = unname(x[, 1]), upper = unname(x[, 2]))
}
lrt <- function(...) {
  a <- suppressMessages(anova(...))
  df <- as.data.frame(a)
  list(models = rownames(a), npar = df$npar, AIC = df$AIC, BIC = df$BIC, logLik = df$logLik,
       deviance = df$deviance, Chisq = df$Chisq, Df = df$Df, p = df[["Pr(>Chisq)"]])
}
kr <- function(m) {
  s <- summary(m, ddf = "Kenward-Roger")$coefficients
  a <- anova(m, type = 3, ddf = "Kenward-Roger")
  list(names = rownames(s), estimate = unname(s[, 1]), se = unname(s[, 2]), df = unname(s[, 3]),
       t = unname(s[, 4]), p = unname(s[, 5]),
       anova = list(terms = rownames(a), F = a[["F value"]], NumDF = a$NumDF, DenDF = a$DenDF))
}
out <- list(software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest")),
                            pbkrtest = as.character(packageVersion("pbkrtest"))))

s1 <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleep)
s0 <- lme4::lmer(Reaction ~ Days + (1 | Subject), sleep)
h1 <- lme4::lmer(mAch ~ ses + (ses | school), hsb)
h2 <- lme4::lmer(mAch ~ ses * sector + (ses | school), hsb)
out$confint <- list(
  sleepstudy_slope_corr = list(formula = "Reaction ~ Days + (Days | Subject)", data = "sleepstudy",
                               profile = ci(s1, "profile"), Wald = ci(s1, "Wald")),
  sleepstudy_intercept = list(formula = "Reaction ~ Days + (1 | Subject)", data = "sleepstudy",
                              profile = ci(s0, "profile"), Wald = ci(s0, "Wald")),
  hsb_ses_slope = list(formula = "mAch ~ ses + (ses | school)", data = "hsb",
                       profile = ci(h1, "profile"), Wald = ci(h1, "Wald")))
out$anova <- list(
  sleepstudy = list(formulas = c("Reaction ~ Days + (1 | Subject)", "Reaction ~ Days + (Days | Subject)"),
                    data = "sleepstudy", table = lrt(s0, s1)),
  hsb = list(formulas = c("mAch ~ ses + (ses | school)", "mAch ~ ses * sector + (ses | school)"),
             data = "hsb", table = lrt(h1, h2)))
out$kenward_roger <- list(
  sleepstudy_slope_corr = c(list(formula = "Reaction ~ Days + (Days | Subject)", data = "sleepstudy"),
                            kr(lmerTest::lmer(Reaction ~ Days + (Days | Subject), sleep))),
  hsb_sx_sector_slope = c(list(formula = "mAch ~ sx * sector + (sx | school)", data = "hsb"),
                          kr(lmerTest::lmer(mAch ~ sx * sector + (sx | school), hsb))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "inference.json")
