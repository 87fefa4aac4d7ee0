/** Tailwind 3 config: scans the templ views and Go files that build class names. */
module.exports = {
  content: ["./views/**/*.templ", "./views/**/*.go", "./handlers/**/*.go"],
  darkMode: "media",
  theme: {
    extend: {
      colors: {
        brand: { 50: "#eff6ff", 100: "#dbeafe", 600: "#0f6cbd", 700: "#115ea3", 800: "#0f548c" },
      },
    },
  },
  plugins: [],
};
