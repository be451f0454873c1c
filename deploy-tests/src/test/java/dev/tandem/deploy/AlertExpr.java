package dev.tandem.deploy;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The parts of an alert expression that must return data on a healthy cluster.
 *
 * <p>An alert expression is empty while all is well ({@code sum(x) < 1} has no result when a
 * leader exists), so "the alert returns data" is checked on its operands: each top-level
 * {@code or} branch with its final comparison against a number removed, and {@code absent(x)}
 * replaced by {@code x}. For {@code (sum by (c) (x) < 1) or absent(x)} that is
 * {@code sum by (c) (x)} and {@code x}.
 */
final class AlertExpr {

    private static final Pattern NUMBER = Pattern.compile("-?(\\d+(\\.\\d*)?|\\.\\d+)([eE][-+]?\\d+)?");
    private static final List<String> COMPARISONS = List.of("==", "!=", ">=", "<=", ">", "<");

    private AlertExpr() {}

    static List<String> operands(String expr) {
        List<String> out = new ArrayList<>();
        for (String branch : splitOr(expr.strip())) {
            String b = unwrap(branch);
            if (b.startsWith("absent(") && closingParen(b, "absent".length()) == b.length() - 1) {
                out.add(unwrap(b.substring("absent(".length(), b.length() - 1)));
            } else {
                out.add(unwrap(stripComparison(b)));
            }
        }
        return out;
    }

    /** The expression split at each {@code or} outside parentheses, braces and strings. */
    static List<String> splitOr(String expr) {
        List<String> out = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < expr.length(); i++) {
            char c = expr.charAt(i);
            if (c == '"' || c == '\'') {
                i = endOfString(expr, i);
            } else if (c == '(' || c == '{' || c == '[') {
                depth++;
            } else if (c == ')' || c == '}' || c == ']') {
                depth--;
            } else if (depth == 0 && expr.startsWith("or", i) && boundary(expr, i - 1) && boundary(expr, i + 2)) {
                out.add(expr.substring(start, i).strip());
                start = i + 2;
                i++;
            }
        }
        out.add(expr.substring(start).strip());
        return out;
    }

    /** {@code x > 10} becomes {@code x}; anything else is returned unchanged. */
    static String stripComparison(String expr) {
        int depth = 0;
        int at = -1;
        int len = 0;
        for (int i = 0; i < expr.length(); i++) {
            char c = expr.charAt(i);
            if (c == '"' || c == '\'') {
                i = endOfString(expr, i);
            } else if (c == '(' || c == '{' || c == '[') {
                depth++;
            } else if (c == ')' || c == '}' || c == ']') {
                depth--;
            } else if (depth == 0) {
                for (String op : COMPARISONS) {
                    if (expr.startsWith(op, i)) {
                        at = i;
                        len = op.length();
                        i += op.length() - 1;
                        break;
                    }
                }
            }
        }
        if (at < 0) {
            return expr;
        }
        String rhs = expr.substring(at + len).strip();
        if (rhs.startsWith("bool ")) {
            rhs = rhs.substring("bool ".length()).strip();
        }
        return NUMBER.matcher(rhs).matches() ? expr.substring(0, at).strip() : expr;
    }

    /** Outer parentheses removed while they enclose the whole expression. */
    static String unwrap(String expr) {
        String e = expr.strip();
        while (e.startsWith("(") && closingParen(e, 0) == e.length() - 1) {
            e = e.substring(1, e.length() - 1).strip();
        }
        return e;
    }

    /** Index of the parenthesis closing the one at {@code open}, or -1. */
    private static int closingParen(String s, int open) {
        int depth = 0;
        for (int i = open; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\'') {
                i = endOfString(s, i);
            } else if (c == '(') {
                depth++;
            } else if (c == ')' && --depth == 0) {
                return i;
            }
        }
        return -1;
    }

    private static int endOfString(String s, int quote) {
        char q = s.charAt(quote);
        for (int i = quote + 1; i < s.length(); i++) {
            if (s.charAt(i) == '\\') {
                i++;
            } else if (s.charAt(i) == q) {
                return i;
            }
        }
        return s.length() - 1;
    }

    private static boolean boundary(String s, int i) {
        return i < 0 || i >= s.length() || !(Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_');
    }
}
