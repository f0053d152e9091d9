## Reference values for tests/test_families.py, from R's stats family objects (and lme4's use of them).
## Regenerate (R 4.2; package statmod for dinvgauss) from the repository root:
##   Rscript tests/data/families_reference.R
## which writes tests/data/families_reference.json. The tests read only the JSON.

num <- function(x) {
  # 17 significant digits (round-trips a double); JSON has no Inf/NaN: Python's json reads these tokens
  s <- sprintf("%.17g", as.double(x))
  s[is.nan(x)] <- "NaN"
  s[is.na(x) & !is.nan(x)] <- "NaN"
  s[x == Inf & !is.na(x)] <- "Infinity"
  s[x == -Inf & !is.na(x)] <- "-Infinity"
  s
}
to_json <- function(x) {
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (!is.null(names(x))) {
      items <- vapply(names(x), function(n) paste0("\"", n, "\": ", to_json(x[[n]])), "")
      return(paste0("{", paste(items, collapse = ", "), "}"))
    }
    return(paste0("[", paste(vapply(x, to_json, ""), collapse = ", "), "]"))
  }
  if (inherits(x, "AsIs")) x <- unclass(x)
  if (is.logical(x)) v <- ifelse(x, "true", "false")
  else if (is.character(x)) v <- paste0("\"", gsub("\"", "\\\\\"", x), "\"")
  else v <- num(x)
  if (length(x) == 1 && !inherits(x, "vec")) return(v)
  paste0("[", paste(v, collapse = ", "), "]")
}
vec <- function(x) structure(x, class = c("vec", class(x)))  # always a JSON array, even of length 1

eta_grid <- c(-800, -40, -30.5, -30, -29.9, -10, -8.2, -1, -1e-10, 0, 1e-10, 0.5, 3, 8.2, 29.9, 30, 30.5, 40, 700, 710, 800)
mu_unit <- c(0, 1e-300, 1e-16, 2.220446049250313e-16, 1e-10, 0.001, 0.25, 0.5, 0.75, 0.999, 1 - 1e-10, 1 - 2.220446049250313e-16, 1)
mu_pos <- c(0, 1e-300, 1e-10, 0.001, 0.25, 0.5, 1, 2.5, 100, 1e10, 1e300)

links <- list()
for (l in c("logit", "probit", "cloglog", "cauchit", "log", "identity", "inverse", "sqrt", "1/mu^2")) {
  lk <- make.link(l)
  # the binomial links on [0, 1] (R's logit link stops outside it), the others on a wide range
  mu <- if (l %in% c("logit", "probit", "cloglog", "cauchit")) mu_unit else c(-1, mu_pos)
  links[[l]] <- list(
    eta = vec(eta_grid),
    linkinv = vec(suppressWarnings(lk$linkinv(eta_grid))),
    mu_eta = vec(suppressWarnings(lk$mu.eta(eta_grid))),
    mu = vec(mu),
    linkfun = vec(suppressWarnings(lk$linkfun(mu))),
    valid_eta = list(
      list(eta = vec(c(0.5, 1, 2)), valid = lk$valideta(c(0.5, 1, 2))),
      list(eta = vec(c(0.5, 0, 2)), valid = lk$valideta(c(0.5, 0, 2))),
      list(eta = vec(c(-1, 1)), valid = lk$valideta(c(-1, 1))),
      list(eta = vec(c(1, Inf)), valid = lk$valideta(c(1, Inf)))
    )
  )
}

families <- list(
  binomial = binomial(), poisson = poisson(), Gamma = Gamma(),
  inverse.gaussian = inverse.gaussian(), gaussian = gaussian()
)

cases <- list(
  binomial = list(
    list(y = c(0, 1, 0.5, 0.25, 1, 0, 2/3), n = rep(1, 7), wt = c(1, 1, 2, 4, 3, 0, 3),
         mu = c(0.1, 0.9, 0.4, 0.3, 0.999999, 0.5, 0.6)),
    # cbind(successes, failures): n = totals, prior weights = totals (R's initialize multiplies them)
    list(y = c(0.2, 0.5, 1, 0, 0.375, 0.5), n = c(5, 10, 3, 8, 40, 1000), wt = c(5, 10, 3, 8, 40, 1000),
         mu = c(0.25, 0.45, 0.95, 0.05, 0.4, 0.51)),
    # extreme fitted values (mu < 0.1 and > 0.9 take R's bd0 branches), 0/1 responses
    list(y = c(0, 1, 0, 1, 1, 0, 0, 1), n = rep(1, 8), wt = c(1, 1, 1, 1, 2, 2, 5, 7),
         mu = c(1e-12, 1 - 1e-12, 0.05, 0.97, 2.220446049250313e-16, 0.5, 0.01, 0.99)),
    # totals 20 to 600 (every stirlerr range) with successes in the interior
    list(y = c(0.35, 0.55, 0.125, 0.9, 0.5), n = c(20, 40, 80, 200, 600), wt = c(20, 40, 80, 200, 600),
         mu = c(0.3, 0.6, 0.2, 0.85, 0.45)),
    # non-integer successes: R's aic rounds m * y
    list(y = c(0.3, 0.7, 0.45), n = rep(1, 3), wt = c(1, 1, 3), mu = c(0.4, 0.6, 0.5))
  ),
  poisson = list(
    list(y = c(0, 1, 2, 5, 10, 100, 12345), n = rep(1, 7), wt = c(1, 2, 1, 0.5, 1, 1, 3),
         mu = c(0.5, 1, 3, 4.5, 10, 120, 12000)),
    list(y = c(0, 0, 3, 40, 1e6, 7), n = rep(1, 6), wt = rep(1, 6),
         mu = c(1e-8, 2, 3.0000001, 25, 1.001e6, 1e-3)),
    # a non-integer count: R's dpois gives -Inf (aic Inf)
    list(y = c(1.5, 2, 0), n = rep(1, 3), wt = c(1, 1, 1), mu = c(1, 2, 0.5))
  ),
  Gamma = list(
    list(y = c(0.5, 1, 2.5, 10, 0.01), n = rep(1, 5), wt = c(1, 2, 1, 0.5, 1), mu = c(0.7, 1, 2, 12, 0.02)),
    # a large dispersion (shape < 1 in R's dgamma)
    list(y = c(0.1, 5, 0.3, 8, 0.02), n = rep(1, 5), wt = rep(1, 5), mu = c(3, 0.2, 4, 0.5, 2)),
    # a small dispersion (large shape)
    list(y = c(1.01, 0.99, 1.002, 0.998, 1), n = rep(1, 5), wt = c(1, 1, 2, 2, 1), mu = c(1, 1, 1, 1, 1.001))
  ),
  inverse.gaussian = list(
    list(y = c(0.5, 1, 2.5, 10, 0.01), n = rep(1, 5), wt = c(1, 2, 1, 0.5, 1), mu = c(0.7, 1, 2, 12, 0.02)),
    list(y = c(3, 0.2, 1), n = rep(1, 3), wt = rep(1, 3), mu = c(2, 0.5, 1.5))
  ),
  gaussian = list(
    list(y = c(-1.5, 0, 2.25, 10, 3), n = rep(1, 5), wt = c(1, 2, 1, 0.5, 4), mu = c(-1, 0.5, 2, 9, 3.5)),
    list(y = c(1, 2, 3), n = rep(1, 3), wt = c(0, 1, 1), mu = c(1.5, 2, 2.5))  # a zero weight: R's aic is Inf
  )
)

# dispersions at which the saturated log-likelihood of the families with a dispersion parameter is given
# (their shapes 1/phi cover R's dgamma branches: < 1, table half-integers, lgamma, each series range)
phis <- c(2.5, 1, 1/3.5, 0.3, 1/20.5, 1/50.25, 0.01, 1e-3)

dinvgauss_log <- function(y, mu, phi) -0.5 * log(2 * pi * phi * y^3) - (y - mu)^2 / (2 * phi * mu^2 * y)

fam_out <- list()
for (fname in names(families)) {
  fam <- families[[fname]]
  out <- list()
  for (cs in cases[[fname]]) {
    y <- cs$y; n <- cs$n; wt <- cs$wt; mu <- cs$mu
    dr <- fam$dev.resids(y, mu, wt)
    dev <- sum(dr)
    aic <- suppressWarnings(fam$aic(y, n, mu, wt, dev))
    # R's initialize (glm.fit's environment: y, weights, nobs, family, start/etastart/mustart NULL)
    env <- list2env(list(y = y, weights = wt, nobs = length(y), family = fam,
                         start = NULL, etastart = NULL, mustart = NULL))
    suppressWarnings(eval(fam$initialize, env))
    rec <- list(y = vec(y), n = vec(n), wt = vec(wt), mu = vec(mu), variance = vec(fam$variance(mu)),
                dev_resids = vec(dr), dev = dev, aic = aic, valid_mu = fam$validmu(mu),
                mustart = vec(get("mustart", env)))
    if (fname == "binomial") {
      rec$loglik_saturated <- suppressWarnings(-fam$aic(y, n, y, wt, 0) / 2)
    } else if (fname == "poisson") {
      rec$loglik_saturated <- suppressWarnings(sum(wt * dpois(y, y, log = TRUE)))
    } else {
      sat <- list()
      for (phi in phis) {
        if (fname == "Gamma") {
          s <- sum(wt * dgamma(y, 1 / phi, scale = y * phi, log = TRUE))
          m <- sum(wt * dgamma(y, 1 / phi, scale = mu * phi, log = TRUE))
        } else if (fname == "inverse.gaussian") {
          s <- sum(wt * dinvgauss_log(y, y, phi))
          m <- sum(wt * statmod::dinvgauss(y, mean = mu, dispersion = phi, log = TRUE))
        } else {
          s <- sum(dnorm(y, y, sqrt(phi / wt), log = TRUE))
          m <- sum(dnorm(y, mu, sqrt(phi / wt), log = TRUE))
        }
        sat[[length(sat) + 1]] <- list(dispersion = phi, loglik_saturated = s, loglik = m)
      }
      rec$saturated <- sat
    }
    out[[length(out) + 1]] <- rec
  }
  fam_out[[fname]] <- out
}

# R's own fits: the aic of glm() (family$aic + 2 * rank) for each family with weights, as a whole-pipeline check
glm_fits <- list()
x <- seq(0.1, 2, length.out = 12)
wts <- c(1, 2, 1, 3, 1, 1, 2, 1, 1, 2, 1, 1)
ys <- list(
  binomial = c(0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1),
  poisson = c(0, 1, 3, 2, 4, 2, 5, 7, 6, 9, 8, 12),
  Gamma = c(0.8, 1.1, 0.9, 1.7, 1.2, 2.1, 1.6, 2.5, 2.2, 3.1, 2.4, 3.6),
  inverse.gaussian = c(0.8, 1.1, 0.9, 1.7, 1.2, 2.1, 1.6, 2.5, 2.2, 3.1, 2.4, 3.6),
  gaussian = c(0.8, 1.1, 0.9, 1.7, 1.2, 2.1, 1.6, 2.5, 2.2, 3.1, 2.4, 3.6)
)
for (fname in names(families)) {
  g <- suppressWarnings(glm(ys[[fname]] ~ x, family = families[[fname]], weights = wts,
                            control = glm.control(epsilon = 1e-14, maxit = 100)))
  glm_fits[[fname]] <- list(y = vec(ys[[fname]]), x = vec(x), wt = vec(wts), prior_weights = vec(g$prior.weights),
                            mu = vec(fitted(g)), deviance = g$deviance, aic = g$aic, rank = g$rank)
}

res <- list(
  meta = list(R = R.version.string, eps = .Machine$double.eps,
              probit_thresh = -qnorm(.Machine$double.eps), cauchit_thresh = -qcauchy(.Machine$double.eps)),
  links = links, families = fam_out, glm = glm_fits
)
writeLines(to_json(res), "tests/data/families_reference.json")
